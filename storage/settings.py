"""What the vault keeps and for how long: one frozen settings object, validated at construction."""

from __future__ import annotations

from dataclasses import dataclass

from keepmum.settings import check_settings, setting

__all__ = ["MAX_RETENTION_H", "VaultSettings"]

MAX_RETENTION_H = 24.0 * 366
"""Longest retention accepted (hours): a year. A record must expire; an unbounded retention
(1e9 h) would be a promise to keep audio forever and overflows times downstream."""


@dataclass(frozen=True)
class VaultSettings:
    """Retention and capacity of the vault (the ``[vault]`` section of ``config.toml``)."""

    retention_h: float = setting(
        24.0,
        unit="h",
        low=0.0,
        high=MAX_RETENTION_H,
        option="--retention-h",
        help="Hours a kept record lives (0 keeps nothing).",
    )
    """How long a kept utterance lives before it is deleted (hours); 0 keeps nothing at all."""
    capacity_s: float = setting(
        600.0,
        unit="s",
        low=0.0,
        help="Most audio the vault holds at once (s); the oldest records are deleted first.",
    )
    """Most audio the vault holds at once (seconds); the oldest records are deleted first."""

    def __post_init__(self) -> None:
        """Raise :class:`ConfigError` naming the first setting out of range (a year at most for
        ``retention_h``): at construction, so an invalid one cannot exist."""
        check_settings(self, "vault")

    @property
    def retention_s(self) -> float:
        """Retention in seconds."""
        return self.retention_h * 3600.0

    @property
    def keeps_nothing(self) -> bool:
        """True when ``retention_h`` is 0: utterances are reported but never stored."""
        return self.retention_h == 0
