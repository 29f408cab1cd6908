"""Fixtures of the vault's tests (defined in tests/storage/vault_fixtures.py, shared here), and the
real receiver on 127.0.0.1 in a thread for the consent and upload tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.cloud import CloudServer, CloudStore
from storage.vault import Vault
from tests.storage.vault_fixtures import (
    FakeClock,
    clock,
    home,
    identities,
    open_vault,
    template_home,
)

__all__ = ["clock", "cloud", "home", "identities", "other_cloud", "template_home", "vault"]


def serve(folder: Path) -> Iterator[CloudServer]:
    """The real receiver on a free loopback port, in a thread, for as long as the test runs."""
    srv = CloudServer(CloudStore(folder), "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudServer]:
    yield from serve(tmp_path / "cloud")


@pytest.fixture
def other_cloud(tmp_path: Path) -> Iterator[CloudServer]:
    yield from serve(tmp_path / "other-cloud")


@pytest.fixture
def vault(home: Path, clock: FakeClock) -> Iterator[Vault]:
    with open_vault(home, clock) as v:
        yield v
