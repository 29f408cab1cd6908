"""The one exception tree of keepmum.

Every error the core raises is a :class:`KeepmumError`; only ``sim/`` catches them, prints the
message as one line and exits with the error's ``exit_code``. The core never exits or prints.

::

    KeepmumError                 exit 2 unless stated
    ├── ConfigError              a configuration file or setting is malformed or out of range
    ├── AudioInputError          an audio file or stream cannot be read or is not audio
    │   └── AudioDeviceError     a sound device does not exist or cannot be opened
    ├── DetectorError            a wake-word model cannot be found or loaded
    ├── VaultError               the vault cannot be opened or used as asked
    │   ├── IntegrityError       stored data failed verification (exit 1: a check failed)
    │   ├── PassphraseError      a passphrase does not unlock an identity
    │   ├── PermissionsError     an identity file or folder is readable by others
    │   ├── StorageFullError     the disk is full: nothing more can be stored (deleting works)
    │   └── FormatVersionError   the vault was written by a newer keepmum
    ├── ConsentError             an action is not covered by consent, or a grant is invalid
    ├── UploadError              an endpoint refused or could not be reached
    ├── CheckFailed              an expectation, verification or benchmark bar failed (exit 1)
    └── Interrupted              a run was stopped by a signal, after it ended cleanly
                                 (exit 130 for SIGINT/Ctrl-C, 143 for SIGTERM)

Messages say what, where, and expected versus got, e.g.
``"clip.wav: not an audio file (soundfile: Format not recognised)"``.
"""

from __future__ import annotations

__all__ = [
    "AudioDeviceError",
    "AudioInputError",
    "CheckFailed",
    "ConfigError",
    "ConsentError",
    "DetectorError",
    "FormatVersionError",
    "IntegrityError",
    "Interrupted",
    "KeepmumError",
    "PassphraseError",
    "PermissionsError",
    "StorageFullError",
    "UploadError",
    "VaultError",
]


class KeepmumError(Exception):
    """Base of every error keepmum reports to a user."""

    exit_code: int = 2


class ConfigError(KeepmumError):
    """A configuration file or setting is malformed or out of range."""


class AudioInputError(KeepmumError):
    """An audio file or stream cannot be read, is empty, or is not audio."""


class AudioDeviceError(AudioInputError):
    """A sound device does not exist or cannot be opened."""


class DetectorError(KeepmumError):
    """A wake-word model cannot be found or loaded."""


class VaultError(KeepmumError):
    """The vault cannot be opened or used as asked."""


class IntegrityError(VaultError):
    """Stored data failed verification: what was expected and what was found."""

    exit_code = 1


class PassphraseError(VaultError):
    """A passphrase does not unlock a member's identity."""


class PermissionsError(VaultError):
    """An identity file or its folder is readable by others."""


class StorageFullError(VaultError):
    """The vault's disk is full: a write was refused and rolled back, nothing was lost."""


class FormatVersionError(VaultError):
    """The vault or a file in it was written by a newer keepmum and is refused."""


class ConsentError(KeepmumError):
    """An action is not covered by consent, or a grant is invalid."""


class UploadError(KeepmumError):
    """An upload endpoint refused the data or could not be reached."""


class CheckFailed(KeepmumError):
    """An expectation, a verification or a benchmark bar failed."""

    exit_code = 1


class Interrupted(KeepmumError):
    """A run was stopped by a signal; it finished the utterance in hand, recorded and reported
    what it heard, and exits 128 + the signal's number, as a shell does (130 for SIGINT)."""

    def __init__(self, signal_name: str, signal_number: int, detail: str = "") -> None:
        super().__init__(f"interrupted by {signal_name}" + (f"; {detail}" if detail else ""))
        self.exit_code = 128 + signal_number
