"""What the vault keeps and for how long: one frozen settings object, validated at construction."""

from __future__ import annotations

import math
from dataclasses import dataclass

from keepmum.errors import ConfigError

__all__ = ["MAX_RETENTION_H", "VaultSettings"]

MAX_RETENTION_H = 24.0 * 366
"""Longest retention accepted (hours): a year. A record must expire; an unbounded retention
(1e9 h) would be a promise to keep audio forever and overflows times downstream."""


@dataclass(frozen=True)
class VaultSettings:
    """Retention and capacity of the vault (the ``[vault]`` section of ``config.toml``)."""

    retention_h: float = 24.0
    """How long a kept utterance lives before it is deleted (hours); 0 keeps nothing at all."""
    capacity_s: float = 600.0
    """Most audio the vault holds at once (seconds); the oldest records are deleted first."""

    def __post_init__(self) -> None:
        for name in ("retention_h", "capacity_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"vault.{name}: expected a number, got {value!r}")
            if math.isnan(value) or value < 0 or math.isinf(value):
                raise ConfigError(f"vault.{name}: expected a finite number >= 0, got {value!r}")
        if self.retention_h > MAX_RETENTION_H:
            raise ConfigError(
                f"vault.retention_h: expected at most {MAX_RETENTION_H:g} hours "
                f"(a year), got {self.retention_h!r}"
            )

    @property
    def retention_s(self) -> float:
        """Retention in seconds."""
        return self.retention_h * 3600.0

    @property
    def keeps_nothing(self) -> bool:
        """True when ``retention_h`` is 0: utterances are reported but never stored."""
        return self.retention_h == 0
