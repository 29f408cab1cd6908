"""The device's configuration: one frozen tree, loaded once from TOML and the command line.

Each package owns the settings of its concern (``SpeakerSettings``, ``WakeSettings``,
``VadSettings``, ``VaultSettings``); this module composes them, reads ``config.toml`` (default:
``HOME/config.toml``), applies command-line overrides, and validates everything before any audio
is heard. A malformed file, an unknown key, a wrong type or a value out of range is a
:class:`~keepmum.errors.ConfigError` naming the file, the key and what was expected.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device.states import SpeakerSettings
from keepmum.errors import ConfigError
from keepmum.files import write_file
from keepmum.settings import check_settings, setting
from storage.settings import VaultSettings
from wakeword.trigger import WakeSettings
from wakeword.vad import VadSettings
from wakeword.voice import DEFAULT_VOICE_THRESHOLD

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "CONFIG_NAME",
    "SECTIONS",
    "UNATTRIBUTED_CHOICES",
    "Config",
    "DeviceSettings",
    "VoiceSettings",
    "load_config",
    "read_user_text",
    "to_toml",
    "unknown_name",
    "write_default_config",
]

CONFIG_NAME = "config.toml"


@dataclass(frozen=True)
class DeviceSettings:
    """How this device hears: its microphone and the VAD gate for small boards."""

    input_device: str = setting(
        "", unit="", help="Microphone by name or index (empty: the system default)."
    )
    """Microphone by name or index (empty: the system default)."""
    vad_gate: bool = setting(
        False,
        unit="",
        help="Run the speech-embedding model only while speech was heard recently (saves CPU).",
    )
    """Run the speech-embedding model only while speech was heard recently (saves CPU)."""
    vad_gate_s: float = setting(
        1.5,
        unit="s",
        low=0.08,
        high=10.0,
        help="How recently speech must have been heard for the VAD gate to be open (s).",
    )
    """How recently speech must have been heard for the gate to be open (seconds)."""

    def __post_init__(self) -> None:
        """Raise :class:`ConfigError` naming the first setting out of range: at construction, so an
        invalid one cannot exist."""
        check_settings(self, "device")


UNATTRIBUTED_CHOICES = ("discard", "default")
"""What happens to a request whose voice matches no enrolled member."""


@dataclass(frozen=True)
class VoiceSettings:
    """Whose request it is, once anyone has enrolled their voice (``keepmum member enrol``);
    with nobody enrolled, or with ``--member``, these do nothing."""

    voice_threshold: float = setting(
        DEFAULT_VOICE_THRESHOLD,
        unit="cosine",
        low=0.0,
        high=1.0,
        option="--voice-threshold",
        help="Voice score (0-1) a request needs to be filed under an enrolled member.",
    )
    """Voice score (cosine to the member's voiceprint) a request needs to be filed under them."""
    unattributed: str = setting(
        "discard",
        unit="",
        choices=UNATTRIBUTED_CHOICES,
        option="--unattributed",
        help="A request whose voice matches no enrolled member: discard it (reason stranger) "
        "or file it under the default member (`default`).",
    )
    """A request whose voice matches no enrolled member: ``discard`` or ``default``."""

    def __post_init__(self) -> None:
        """Raise :class:`ConfigError` naming the first setting out of range."""
        check_settings(self, "voice")


@dataclass(frozen=True)
class Config:
    """Everything the device needs to run, validated."""

    device: DeviceSettings = field(default_factory=DeviceSettings)
    wakeword: WakeSettings = field(default_factory=WakeSettings)
    vad: VadSettings = field(default_factory=VadSettings)
    speaker: SpeakerSettings = field(default_factory=SpeakerSettings)
    vault: VaultSettings = field(default_factory=VaultSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    source: str = "defaults"
    """Where it came from (a file path, or ``defaults``)."""
    origins: tuple[tuple[str, str], ...] = ()
    """``("section.key", "--option VALUE")`` for each setting the command line gave."""

    def blame(self, section: str, key: str) -> str:
        """Who set ``section.key``: the command-line option, else the file (or ``defaults``),
        so that an error about a setting names what the user must change."""
        return dict(self.origins).get(f"{section}.{key}", self.source)

    def as_toml_dict(self) -> dict[str, dict[str, Any]]:
        """The settings as TOML tables (for ``config show`` and writing a default file)."""
        out: dict[str, dict[str, Any]] = {}
        for section in SECTIONS:
            settings = getattr(self, section)
            table: dict[str, Any] = {}
            for f in dataclasses.fields(settings):
                if not f.init:
                    continue
                value = getattr(settings, f.name)
                if f.name == "thresholds":
                    value = dict(value)
                elif isinstance(value, tuple):
                    value = list(value)
                table[f.name] = value
            out[section] = table
        return out


SECTIONS: dict[str, type] = {
    "device": DeviceSettings,
    "wakeword": WakeSettings,
    "vad": VadSettings,
    "speaker": SpeakerSettings,
    "vault": VaultSettings,
    "voice": VoiceSettings,
}


def unknown_name(what: str, name: str, known: Iterable[str]) -> str:
    """``"unknown key 'tolerence_s' (did you mean 'tolerance_s'? known: ...)"``: every refusal
    of a typo lists the names there are, and the closest one first."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {what} {name!r} ({hint}known: {', '.join(names)})"


def _expected_kind(cls: type, name: str) -> Any:
    hints = typing.get_type_hints(cls)
    return hints[name]


def _coerce(where: str, key: str, value: Any, hint: Any) -> Any:
    """Check a TOML value against a settings field's type; lists become tuples."""
    origin = typing.get_origin(hint)
    if key == "thresholds":
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {key} must be a table of model = threshold, got {value!r}")
        return tuple((str(k), _coerce(where, f"{key}.{k}", v, float)) for k, v in value.items())
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: {key} must be a list of strings, got {value!r}")
        return tuple(value)
    if origin in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: {key} must be a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: {key} must be a number, got {value!r}")
        if not math.isfinite(value):  # TOML has inf and nan; no setting means either
            raise ConfigError(f"{where}: {key} must be a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be a string, got {value!r}")
        return str(value)
    return value


def _build(where: str, tables: dict[str, Any]) -> dict[str, Any]:
    built: dict[str, Any] = {}
    for section, table in tables.items():
        if section not in SECTIONS:
            raise ConfigError(f"{where}: {unknown_name('section', section, SECTIONS)}")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{section}] must be a table, got {table!r}")
        cls = SECTIONS[section]
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        kwargs: dict[str, Any] = {}
        for key, value in table.items():
            if key not in names:
                raise ConfigError(f"{where}: [{section}] {unknown_name('key', key, names)}")
            kwargs[key] = _coerce(f"{where} [{section}]", key, value, _expected_kind(cls, key))
        try:
            settings = cls(**kwargs)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        built[section] = settings
    return built


def _merge(
    base: dict[str, dict[str, Any]], extra: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    merged = {section: dict(table) for section, table in base.items()}
    for section, table in extra.items():
        merged.setdefault(section, {}).update(table)
    return merged


def load_config(
    path: Path | None = None,
    *,
    home: Path | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    blame: Mapping[tuple[str, str], str] | None = None,
) -> Config:
    """Defaults, then ``path`` (or ``home/config.toml`` if it exists), then ``overrides``.

    ``overrides`` are TOML-shaped tables from the command line, checked the same way; ``blame``
    names the option that gave each ``(section, key)`` (e.g. ``"--vad-aggressiveness 7"``). An
    error is blamed on its real source: the file is validated alone first, and a bad override
    is reported under its option, never under a file that is fine.
    """
    tables: dict[str, dict[str, Any]] = {}
    source = "defaults"
    if path is None and home is not None and (home / CONFIG_NAME).is_file():
        path = home / CONFIG_NAME
    if path is not None:
        source = str(path)
        text = read_user_text(path, "configuration file")
        try:
            tables = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: malformed TOML ({exc})") from None
        except RecursionError:
            # tomllib parses nested arrays and tables recursively: 1,000 levels exhaust Python's
            # stack, which must be one line like any other malformed file (issue 26).
            raise ConfigError(f"{path}: malformed TOML (nested too deeply)") from None
    try:
        built = _build(source, tables)
    except RecursionError:  # a deeply nested value shown in an error message
        raise ConfigError(f"{source}: a value is nested too deeply") from None
    labels = dict(blame or {})
    given = [(section, key) for section, table in (overrides or {}).items() for key in table]

    def label(section: str, key: str) -> str:
        return labels.get((section, key), f"command line: {section}.{key}")

    if given:
        try:
            built = _build("the command-line options", _merge(tables, overrides or {}))
        except ConfigError:
            # Find the option at fault: each override alone on top of the (valid) file.
            for section, key in given:
                value = (overrides or {})[section][key]
                _build(label(section, key), _merge(tables, {section: {key: value}}))
            raise
    origins = tuple((f"{section}.{key}", label(section, key)) for section, key in given)
    return Config(**built, source=source, origins=origins)


_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\"}


def _toml_string(text: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped, so the output is
    valid TOML and never carries a raw terminal escape sequence."""
    return (
        '"'
        + "".join(
            _TOML_ESCAPES.get(ch)
            or (f"\\u{ord(ch):04x}" if (ord(ch) < 0x20 and ch != "\t") or ch == "\x7f" else ch)
            for ch in text
        )
        + '"'
    )


def _toml_key(key: str) -> str:
    bare = bool(key) and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in key)
    return key if bare else _toml_string(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(items) + " }"
    return repr(value)


def to_toml(config: Config) -> str:
    """The configuration as a TOML document, every setting with its value."""
    lines = ["# keepmum device configuration (units are in the names: _ms, _s, _h)."]
    for section, table in config.as_toml_dict().items():
        lines.append(f"\n[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
    return "\n".join(lines) + "\n"


def write_default_config(home: Path) -> Path:
    """Write ``home/config.toml`` with every default, unless one exists; return its path."""
    path = home / CONFIG_NAME
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # written meanwhile: that one stays
            write_file(path, to_toml(Config()).encode("utf-8"))
    return path


def read_user_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; a :class:`ConfigError` naming the file and ``what`` it should
    be (e.g. ``"configuration file"``) when it is missing, a folder, not text or unreadable."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a {what}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: {what} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
