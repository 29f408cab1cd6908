"""Fixtures of the vault's tests (defined in tests/storage/vaulthelp.py, shared here)."""

from tests.storage.vaulthelp import clock, home, identities, template_home

__all__ = ["clock", "home", "identities", "template_home"]
