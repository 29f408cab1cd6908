"""What the vault's commands share: opening the home's vault with its configured settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from device.errors import ConfigError
from sim.config import load_config
from sim.options import resolve_home
from storage.settings import VaultSettings
from storage.vault import DB_NAME, Vault

__all__ = ["home_is_writable", "opened_vault"]


def home_is_writable(folder: Path) -> bool:
    """False on a read-only mount (``os.access`` alone says yes to root there)."""
    try:
        read_only_fs = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return True  # let opening the vault report what is wrong
    return not read_only_fs and os.access(folder / DB_NAME, os.W_OK)


@contextmanager
def opened_vault(
    home: Path | None, *, read_only: bool = False, withdrawal: bool = False,
    frees_space: bool = False,
) -> Iterator[Vault]:
    """The vault of ``--home`` (or the default home), with ``config.toml``'s vault settings.

    Opening enforces expiry and capacity; VaultError says to run ``keepmum init`` if there is no
    vault. ``read_only`` (list, verify, report, audit ...): on a read-only home, open for
    reading instead of failing. ``withdrawal`` (revoke, delete, forget): a broken config.toml
    must not block withdrawing consent or erasing, so it is skipped, and then nothing is
    purged at open (default settings could delete what the real ones keep). Withdrawal and
    ``frees_space`` (purge) may use the vault's space reserve on a full disk.
    """
    folder = resolve_home(home)
    if read_only and Vault.exists(folder) and not home_is_writable(folder):
        with Vault.open(folder, read_only=True) as vault:
            yield vault
        return
    settings: VaultSettings | None = None
    enforce = True
    if Vault.exists(folder):
        try:
            settings = load_config(home=folder).vault
        except ConfigError:
            if not withdrawal:
                raise
            enforce = False
    with Vault.open(folder, settings, enforce=enforce,
                    frees_space=withdrawal or frees_space) as vault:
        yield vault
