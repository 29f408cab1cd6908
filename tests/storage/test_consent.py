"""Consent-gated upload with the real vault, real SQLite, real age and the real receiver on
127.0.0.1: nothing leaves without a live grant, and only to the grant's endpoint."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pyrage import x25519

from keepmum.errors import ConsentError, UploadError, VaultError
from sim.cloud import CloudServer
from storage.audit import entries
from storage.consent import grant_all_future, grant_records, revoke
from storage.ledger import enqueue, get_grant, queued, revoke_member_grants
from storage.upload import (
    HttpClientTransport,
    HttpRequest,
    HttpResponse,
    Uploader,
    fetch_recipient,
)
from storage.vault import Vault
from tests.storage.conftest import GrantRecords
from tests.storage.vault_fixtures import FakeClock, store_one

Identities = Callable[[str], x25519.Identity]


class RecordingTransport:
    """The real transport, wrapped to note every URL it was asked to reach (unit-test seam)."""

    def __init__(self) -> None:
        self.real = HttpClientTransport(timeout_s=10)
        self.urls: list[str] = []

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.urls.append(request.url)
        return self.real(request)


def _uploaded_bytes(vault: Vault) -> int:
    row = vault.connection.execute("SELECT coalesce(sum(bytes), 0) FROM uploads").fetchone()
    return int(row[0])


def test_no_grant_sends_nothing(vault: Vault, cloud: CloudServer) -> None:
    store_one(vault, "alice", 1)
    store_one(vault, "bob", 2)
    transport = RecordingTransport()
    assert Uploader(vault, transport=transport).plan() == []
    assert Uploader(vault, transport=transport).upload() == []
    assert transport.urls == []
    assert cloud.store.items() == []
    assert _uploaded_bytes(vault) == 0


def test_grant_for_one_record_sends_exactly_it(
    vault: Vault, cloud: CloudServer, other_cloud: CloudServer, identities: Identities
) -> None:
    wanted = store_one(vault, "alice", 1)
    store_one(vault, "alice", 2)
    store_one(vault, "bob", 3)
    transport = RecordingTransport()
    recipient = fetch_recipient(cloud.url, transport)
    grant, items = grant_records(
        vault,
        member="alice",
        identity=identities("alice"),
        purpose="improve wake word",
        endpoint=cloud.url,
        recipient=recipient,
        record_ids=[wanted],
    )
    assert [i.record_id for i in items] == [wanted]
    uploader = Uploader(vault, transport=transport)
    planned = uploader.plan()
    assert [(p.record, p.grant, p.endpoint) for p in planned] == [
        (wanted, grant.grant_id, cloud.url)
    ]
    assert cloud.store.items() == []  # the dry run sent nothing
    sent = uploader.upload()
    assert [(s.record, s.grant, s.bytes) for s in sent] == [
        (wanted, grant.grant_id, planned[0].bytes)
    ]
    received = cloud.store.items()
    assert [(r.record, r.member, r.grant) for r in received] == [(wanted, "alice", grant.grant_id)]
    # The receiver decrypts it to the very WAV the vault holds.
    assert cloud.store.decrypt(received[0]) == vault.decrypt(wanted, identities("alice"))
    # Every byte counted, and only the endpoint's own /upload was reached.
    assert _uploaded_bytes(vault) == received[0].bytes == sent[0].bytes
    assert transport.urls == [cloud.url + "/recipient", cloud.url + "/upload"]
    assert other_cloud.store.items() == []
    assert queued(vault.connection) == []
    assert uploader.upload() == []  # sent once, not again
    events = [e.event for e in entries(vault.connection, member="alice")]
    assert events[-4:] == ["consent_granted", "queued", "upload_started", "uploaded"]


def test_revoke_empties_the_queue_and_stops_the_next_upload(
    vault: Vault, cloud: CloudServer, grant_for: GrantRecords
) -> None:
    rids = [store_one(vault, "alice", s) for s in (1, 2)]
    grant, _ = grant_for(rids)
    old, dropped = revoke(vault, grant.grant_id)
    assert dropped == 2 and old.grant_id == grant.grant_id
    assert queued(vault.connection) == []
    assert Uploader(vault).upload() == []
    assert cloud.store.items() == [] and _uploaded_bytes(vault) == 0
    assert get_grant(vault.connection, grant.grant_id).revoked_at is not None
    with pytest.raises(ConsentError, match="already revoked"):
        revoke(vault, grant.grant_id)


def test_revoke_between_records_stops_the_next_byte(
    vault: Vault, cloud: CloudServer, grant_for: GrantRecords
) -> None:
    rids = [store_one(vault, "alice", s) for s in (1, 2, 3)]
    grant, _ = grant_for(rids)
    uploader = Uploader(vault, transport=RecordingTransport())
    sent = uploader.upload(on_sent=lambda _item: revoke(vault, grant.grant_id))
    assert [s.record for s in sent] == rids[:1]
    assert [r.record for r in cloud.store.items()] == rids[:1]
    assert _uploaded_bytes(vault) == sent[0].bytes


def test_expired_grant_sends_nothing(
    vault: Vault, clock: FakeClock, cloud: CloudServer, grant_for: GrantRecords
) -> None:
    rid = store_one(vault, "alice", 1)
    grant_for([rid], expires=clock() + 60)
    clock.advance(61)
    uploader = Uploader(vault)
    assert uploader.plan() == []
    assert uploader.upload() == []
    assert cloud.store.items() == []


def test_all_future_grant_queues_each_new_record_of_its_member(
    vault: Vault, cloud: CloudServer, identities: Identities
) -> None:
    before = store_one(vault, "alice", 1)
    grant = grant_all_future(
        vault, member="alice", purpose="p", endpoint=cloud.url, recipient=cloud.store.recipient
    )
    after = store_one(vault, "alice", 2)
    store_one(vault, "bob", 3)
    assert [(q.grant_id, q.record_id) for q in queued(vault.connection)] == [
        (grant.grant_id, after)
    ]
    assert before != after
    sent = Uploader(vault).upload()
    assert [s.record for s in sent] == [after]
    received = cloud.store.items()
    assert cloud.store.decrypt(received[0]) == vault.decrypt(after, identities("alice"))


def test_an_all_future_grant_never_sends_what_was_recorded_before_it(
    vault: Vault, clock: FakeClock, cloud: CloudServer, grant_for: GrantRecords
) -> None:
    """Grant.covers, both ways: consenting to what will be recorded is not consenting to what
    was; a grant that names a record covers it however old it is."""
    before = store_one(vault, "alice", 1)
    clock.advance(1)
    future = grant_all_future(
        vault, member="alice", purpose="p", endpoint=cloud.url, recipient=cloud.store.recipient
    )
    clock.advance(1)
    after = store_one(vault, "alice", 2)
    # A copy of the earlier record in the all-future grant's queue, as a hand-edited ledger
    # would hold it: the uploader's own check refuses to send it, then and later.
    with vault.transaction() as conn:
        enqueue(conn, future, before, b"not to be sent", clock(), vault.audit)
    assert {q.record_id for q in queued(vault.connection)} == {before, after}
    uploader = Uploader(vault)
    assert [p.record for p in uploader.plan()] == [after]
    assert [s.record for s in uploader.upload()] == [after]
    assert [r.record for r in cloud.store.items()] == [after]
    assert [(q.grant_id, q.record_id) for q in queued(vault.connection)] == [
        (future.grant_id, before)
    ]
    # Named by the member in a grant of records, the same earlier record is covered.
    named, _ = grant_for([before])
    sent = Uploader(vault).upload()
    assert [(s.record, s.grant) for s in sent] == [(before, named.grant_id)]
    assert sorted(r.record for r in cloud.store.items()) == sorted([before, after])


def test_erasing_a_record_erases_its_queued_copy(
    vault: Vault, cloud: CloudServer, grant_for: GrantRecords
) -> None:
    rid = store_one(vault, "alice", 1)
    grant_for([rid])
    vault.delete(rid)
    assert queued(vault.connection) == []
    assert Uploader(vault).upload() == [] and cloud.store.items() == []


def test_grant_refuses_another_members_record(
    vault: Vault, cloud: CloudServer, identities: Identities, grant_for: GrantRecords
) -> None:
    bobs = store_one(vault, "bob", 1)
    with pytest.raises(ConsentError, match="not a record of member 'alice'"):
        grant_for([bobs])
    with pytest.raises(VaultError, match="this identity is not theirs"):
        grant_records(
            vault,
            member="bob",
            identity=identities("alice"),
            purpose="p",
            endpoint=cloud.url,
            recipient=cloud.store.recipient,
            record_ids=[bobs],
        )
    assert queued(vault.connection) == []
    assert vault.connection.execute("SELECT count(*) FROM consent_events").fetchone()[0] == 0


def test_endpoint_error_keeps_the_item_queued(vault: Vault, identities: Identities) -> None:
    rid = store_one(vault, "alice", 1)
    recipient = str(identities("alice").to_public())  # any valid recipient will do here
    grant_records(
        vault,
        member="alice",
        identity=identities("alice"),
        purpose="p",
        endpoint="http://127.0.0.1:9",
        recipient=recipient,
        record_ids=[rid],
    )

    def refusing(request: HttpRequest) -> HttpResponse:
        return HttpResponse(503, b"busy")

    with pytest.raises(UploadError, match="got 503"):
        Uploader(vault, transport=refusing).upload()
    assert len(queued(vault.connection)) == 1 and _uploaded_bytes(vault) == 0
    with pytest.raises(UploadError, match="cannot reach"):  # discard port: nothing listens
        Uploader(vault).upload()
    assert len(queued(vault.connection)) == 1


def test_forgotten_members_grants_end_with_them(vault: Vault, cloud: CloudServer) -> None:
    grant = grant_all_future(
        vault, member="alice", purpose="p", endpoint=cloud.url, recipient=cloud.store.recipient
    )
    with vault.transaction() as conn:
        assert revoke_member_grants(conn, "alice", vault.clock()) == [grant.grant_id]
    assert get_grant(vault.connection, grant.grant_id).status_at(vault.clock()) == "revoked"
