"""Keeping secrets out of every record: the audit chain, error messages, output.

An age secret key (``AGE-SECRET-KEY-1`` followed by Bech32 characters) pasted where a public
recipient (``age1...``) belongs is the common ``-r``/``-i`` mix-up. Once such a value reaches the
append-only audit chain it can never be removed without breaking the chain, so it must be
refused *before* anything records it: :func:`refuse_secret` at every input that takes a
recipient, :func:`storage.audit.append` as the last line of defence, and :func:`redact` on
every message the command line prints.

Passphrases are never put into messages at all; this module cannot recognise one, so the rule is
kept by construction (tests/storage/test_redact.py scans what a failed run printed and stored).
"""

from __future__ import annotations

import re

from keepmum.errors import ConfigError

__all__ = ["SECRET_KEY_RE", "looks_secret", "redact", "refuse_secret"]

SECRET_KEY_RE = re.compile(
    r"AGE-SECRET-KEY-1[0-9A-Z]*|AGE-PLUGIN-[0-9A-Z-]+-1[0-9A-Z]*", re.IGNORECASE
)
"""An age secret key (native X25519 or a plugin's identity), in either letter case."""

_REDACTED = "AGE-SECRET-KEY-1...(redacted)"


def looks_secret(text: str) -> bool:
    """Whether ``text`` contains anything that looks like an age secret key."""
    return SECRET_KEY_RE.search(text) is not None


def redact(text: str) -> str:
    """``text`` with every age secret key in it replaced by a fixed marker."""
    return SECRET_KEY_RE.sub(_REDACTED, text)


def refuse_secret(value: str, where: str) -> str:
    """Return ``value``, or raise ConfigError (without echoing it) if it holds a secret key.

    ``where`` names the option or file, e.g. ``"--recipient"``.
    """
    if looks_secret(value):
        raise ConfigError(
            f"{where}: this is an age secret key (AGE-SECRET-KEY-1...), not a recipient; it was "
            "not stored or logged. Give the public key (age1...), e.g. from `age-keygen -y`, "
            "and keep the secret one private"
        )
    return value
