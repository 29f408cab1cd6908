"""Reading a small text file that a user named, with one clear error for each way it can fail."""

from __future__ import annotations

from pathlib import Path

from device.errors import ConfigError

__all__ = ["read_user_text"]


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
