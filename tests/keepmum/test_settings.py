"""Each setting declared once: the one validator, and every declared range enforced."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest

from keepmum.errors import ConfigError
from keepmum.settings import Declared, check_settings, declared, setting
from sim.config import SECTIONS


@dataclass(frozen=True)
class Example:
    count_ms: int = setting(100, unit="ms", low=80, high=10_000, help="A count.")
    share: float = setting(0.5, unit="share", low=0.0, high=1.0, low_open=True, help="A share.")
    mode: int = setting(2, unit="mode", choices=(0, 1, 2, 3), help="A mode.")
    policy: str = setting("keep", unit="", choices=("keep", "drop"), help="A word.")
    frames: int = setting(1, unit="frames", low=1, help="At least one.")
    name: str = setting("", unit="", help="Anything.")
    plain: int = 7

    def __post_init__(self) -> None:
        check_settings(self, "example")


@pytest.mark.parametrize(
    ("declaration", "allowed"),
    [
        (Declared("ms", "", low=80, high=10_000), "80..10000"),
        (Declared("s", "", low=0.5, high=10.0), "0.5..10"),
        (Declared("", "", low=0.0, high=1.0, low_open=True), "(0, 1]"),
        (Declared("", "", choices=(0, 1, 2, 3)), "0, 1, 2 or 3"),
        (Declared("", "", choices=(7,)), "7"),
        (Declared("", "", choices=("discard", "default")), "discard or default"),
        (Declared("", "", low=1), ">= 1"),
        (Declared("", "", low=0, low_open=True), "> 0"),
        (Declared("", ""), ""),
    ],
)
def test_allowed_values_are_said_as_the_messages_say_them(
    declaration: Declared, allowed: str
) -> None:
    assert declaration.allowed() == allowed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count_ms": 79}, "example.count_ms must be in 80..10000, got 79"),
        ({"count_ms": 10_001}, "example.count_ms must be in 80..10000, got 10001"),
        ({"count_ms": 100.0}, "example.count_ms must be a whole number in 80..10000, got 100.0"),
        ({"share": 0.0}, r"example.share must be in \(0, 1\], got 0.0"),
        ({"share": float("nan")}, "example.share must be in"),
        ({"share": True}, "example.share must be in"),
        ({"share": "0.5"}, "example.share must be in"),
        ({"mode": 4}, "example.mode must be 0, 1, 2 or 3, got 4"),
        ({"mode": True}, "example.mode must be 0, 1, 2 or 3, got True"),
        ({"frames": 0}, "example.frames must be >= 1, got 0"),
        ({"policy": "Keep"}, "example.policy must be keep or drop, got 'Keep'"),
        ({"policy": 0}, "example.policy must be keep or drop, got 0"),
    ],
)
def test_a_value_out_of_range_is_refused_naming_the_setting(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{message}"):
        Example(**kwargs)


def test_values_at_the_bounds_pass() -> None:
    Example(count_ms=80, share=1.0, mode=0, frames=10**6, name="x", plain=-5)
    Example(count_ms=10_000, share=1e-9, mode=3, policy="drop")


def test_an_infinite_value_is_refused_even_without_an_upper_bound() -> None:
    from wakeword.trigger import WakeSettings

    with pytest.raises(ConfigError, match=r"^wakeword\.refractory_s must be >= 0, got inf"):
        WakeSettings(refractory_s=float("inf"))


def test_only_declared_fields_are_listed() -> None:
    assert [f.name for f, _ in declared(Example)] == [
        "count_ms",
        "share",
        "mode",
        "policy",
        "frames",
        "name",
    ]


def _every_declared_range() -> list[tuple[str, str, Declared, Any]]:
    cases = []
    for section, settings in SECTIONS.items():
        for f, declaration in declared(settings):
            if declaration.low is not None or declaration.choices:
                cases.append((section, f.name, declaration, f.default))
    return cases


@pytest.mark.parametrize(
    ("section", "name", "declaration", "default"),
    _every_declared_range(),
    ids=[f"{s}.{n}" for s, n, _, _ in _every_declared_range()],
)
def test_every_declared_setting_refuses_a_value_just_outside_its_range(
    section: str, name: str, declaration: Declared, default: Any
) -> None:
    settings = SECTIONS[section]
    assert declaration.accepts(default), "the default must be in range"
    settings(**{name: default})  # the default itself passes
    if declaration.choices and isinstance(default, str):
        outside: Any = "not " + default
    elif declaration.choices:
        outside = max(int(c) for c in declaration.choices) + 1
    elif declaration.high is not None:
        outside = declaration.high + 1
    else:
        assert declaration.low is not None
        outside = declaration.low - 1
    if isinstance(default, int):
        outside = int(outside)
    with pytest.raises(ConfigError, match=rf"^{section}\.{name} must be"):
        settings(**{name: outside})


def test_every_section_declares_every_field() -> None:
    for settings in SECTIONS.values():
        init = [f.name for f in dataclasses.fields(settings) if f.init]
        assert [f.name for f, _ in declared(settings)] == init
