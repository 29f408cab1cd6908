"""Fixtures of the vault's tests (defined in tests/storage/vault_fixtures.py, shared here), and the
real receiver on 127.0.0.1 in a thread for the consent and upload tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from pyrage import x25519

from sim.cloud import CloudServer, CloudStore
from storage.consent import grant_records
from storage.endpoint_access import EndpointAccess, remember_access
from storage.ledger import Grant, QueuedUpload
from storage.vault import Vault
from tests.storage.vault_fixtures import (
    FakeClock,
    clock,
    home,
    identities,
    open_vault,
    template_home,
)

__all__ = [
    "GrantRecords",
    "clock",
    "cloud",
    "grant_for",
    "home",
    "identities",
    "other_cloud",
    "template_home",
    "vault",
]


def serve(folder: Path, home: Path) -> Iterator[CloudServer]:
    """The real receiver on a free loopback port, in a thread, for as long as the test runs;
    the device in ``home`` knows its token, as after a grant made with it."""
    srv = CloudServer(CloudStore(folder), "127.0.0.1", 0)
    remember_access(home, srv.url, EndpointAccess(srv.store.token))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


@pytest.fixture
def cloud(tmp_path: Path, home: Path) -> Iterator[CloudServer]:
    yield from serve(tmp_path / "cloud", home)


@pytest.fixture
def other_cloud(tmp_path: Path, home: Path) -> Iterator[CloudServer]:
    yield from serve(tmp_path / "other-cloud", home)


@pytest.fixture
def vault(home: Path, clock: FakeClock) -> Iterator[Vault]:
    with open_vault(home, clock) as v:
        yield v


GrantRecords = Callable[..., tuple[Grant, list[QueuedUpload]]]
"""``grant_for(record_ids, *, member="alice", endpoint=None, expires=None)``: see below."""


@pytest.fixture
def grant_for(
    vault: Vault, cloud: CloudServer, identities: Callable[[str], x25519.Identity]
) -> GrantRecords:
    """Grant upload of named records, as the member does (unlocked), for purpose ``p``, to the
    test's receiver (``cloud``) or to ``endpoint`` with the receiver's recipient; returns the
    grant and its queued copies."""

    def make(
        record_ids: Sequence[str],
        *,
        member: str = "alice",
        endpoint: str | None = None,
        expires: float | None = None,
    ) -> tuple[Grant, list[QueuedUpload]]:
        return grant_records(
            vault,
            member=member,
            identity=identities(member),
            purpose="p",
            endpoint=cloud.url if endpoint is None else endpoint,
            recipient=cloud.store.recipient,
            record_ids=record_ids,
            expires=expires,
        )

    return make
