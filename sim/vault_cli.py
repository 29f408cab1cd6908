"""What the vault's commands share: opening the home's vault with its configured settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.config import load_config
from sim.options import resolve_home
from storage.vault import Vault

__all__ = ["opened_vault"]


@contextmanager
def opened_vault(home: Path | None) -> Iterator[Vault]:
    """The vault of ``--home`` (or the default home), with ``config.toml``'s vault settings.

    Opening enforces expiry and capacity; VaultError says to run ``keepmum init`` if there is no
    vault.
    """
    folder = resolve_home(home)
    settings = load_config(home=folder).vault if Vault.exists(folder) else None
    with Vault.open(folder, settings) as vault:
        yield vault
