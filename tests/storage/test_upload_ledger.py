"""The upload-attempt ledger and erasure at recipients (issue 10.1, 9.2), with the real vault,
real SQLite, real age and the real receiver on 127.0.0.1; fakes only through ``transport=``."""

from __future__ import annotations

import contextlib
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from keepmum.errors import UploadError
from sim.cloud import CloudServer, CloudStore, ReceiverLimits
from storage import audit
from storage.consent import grant_all_future, revoke
from storage.endpoint_access import EndpointAccess, remember_access
from storage.erasure import pending_erasures
from storage.index import SCHEMA_VERSION, schema_version
from storage.ledger import queued
from storage.report import build_report
from storage.upload import (
    DEADLINE_S,
    IN_FLIGHT_GRACE_S,
    ErasureSender,
    HttpClientTransport,
    HttpRequest,
    HttpResponse,
    SendError,
    Uploader,
    UploadNotice,
    open_attempts,
)
from storage.vault import Vault
from storage.verify import verify_vault
from tests.storage.conftest import GrantRecords
from tests.storage.vault_fixtures import FakeClock, store_one

V1_VAULT = Path(__file__).with_name("data") / "vault-v1.db"


class CrashAfterDelivery:
    """Delivers the request for real, then dies before the uploader can log the answer, as a
    SIGKILL after the endpoint stored the record would (KeyboardInterrupt is not caught)."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        HttpClientTransport(timeout_s=10)(request)
        raise KeyboardInterrupt


def test_a_crash_in_flight_is_reported_unknown_and_resent_once_under_the_same_upload_id(
    vault: Vault, clock: FakeClock, cloud: CloudServer, grant_for: GrantRecords
) -> None:
    rid = store_one(vault, "alice", 1)
    grant_for([rid])
    with pytest.raises(KeyboardInterrupt):
        Uploader(vault, transport=CrashAfterDelivery()).upload()
    # The ledger says what the endpoint may hold: one attempt in flight, outcome unknown.
    (attempt,) = open_attempts(vault.connection)
    assert attempt["record"] == rid and attempt["endpoint"] == cloud.url
    assert build_report(vault.connection).unconfirmed_bytes == attempt["bytes"]
    assert len(cloud.store.items()) == 1  # it did arrive
    # While its deadline has not passed, another uploader leaves it alone (it may be sending).
    notices: list[UploadNotice] = []
    assert Uploader(vault).upload(on_notice=notices.append) == []
    assert [n.kind for n in notices] == ["in_flight"]
    clock.advance(DEADLINE_S + IN_FLIGHT_GRACE_S + 1)
    notices.clear()
    sent = Uploader(vault).upload(on_notice=notices.append)
    assert [(n.kind, n.record) for n in notices] == [("outcome_unknown", rid)]
    assert [s.record for s in sent] == [rid]
    # The receiver kept one copy: the resend carried the same upload id.
    (item,) = cloud.store.items()
    assert item.upload_id == attempt["upload_id"]
    assert queued(vault.connection) == [] and open_attempts(vault.connection) == []
    events = [e.event for e in audit.entries(vault.connection, record=rid)]
    assert events[-4:] == ["upload_started", "upload_outcome_unknown", "upload_started", "uploaded"]


def test_a_redirect_or_server_error_is_logged_with_its_bytes_and_stays_queued(
    vault: Vault, grant_for: GrantRecords
) -> None:
    rid = store_one(vault, "alice", 1)
    grant_for([rid])
    size = len(queued(vault.connection)[0].ciphertext)
    for status in (307, 500):
        with pytest.raises(UploadError, match=f"got {status}"):
            Uploader(
                vault, transport=lambda r, s=status: HttpResponse(s, b"no", len(r.body))
            ).upload()
    assert build_report(vault.connection).unconfirmed_bytes == 2 * size
    assert build_report(vault.connection).uploaded_bytes == 2 * size
    failed = audit.entries(vault.connection, event="upload_failed")
    assert [(e.details["status"], e.details["bytes_sent"]) for e in failed] == [
        (307, size),
        (500, size),
    ]
    assert len(queued(vault.connection)) == 1


def test_one_failing_endpoint_does_not_stop_the_others(
    vault: Vault, cloud: CloudServer, grant_for: GrantRecords
) -> None:
    dead, alive = store_one(vault, "alice", 1), store_one(vault, "alice", 2)
    grant_for([dead], endpoint="http://127.0.0.1:9")
    grant_for([alive])
    sent: list[str] = []
    with pytest.raises(UploadError, match=r"127\.0\.0\.1:9.*sent 1 record"):
        Uploader(vault).upload(on_sent=lambda p: sent.append(p.record))
    assert sent == [alive] and [i.record for i in cloud.store.items()] == [alive]


def test_a_revoke_during_the_body_stops_the_next_chunk(
    vault: Vault, cloud: CloudServer, grant_for: GrantRecords
) -> None:
    rid = store_one(vault, "alice", 1)
    gid = grant_for([rid])[0].grant_id

    def revoking_transport(request: HttpRequest) -> HttpResponse:
        assert request.proceed is not None and request.proceed()
        revoke(vault, gid)  # lands between two chunks: the uploader holds no lock now
        assert not request.proceed()
        raise SendError("stopped", 16384)

    with pytest.raises(UploadError, match="stopped"):
        Uploader(vault, transport=revoking_transport).upload()
    assert cloud.store.items() == []
    (entry,) = audit.entries(vault.connection, event="upload_failed")
    assert entry.details["bytes_sent"] == 16384


def test_deleting_an_uploaded_record_asks_its_endpoint_to_erase_it_until_confirmed(
    vault: Vault, cloud: CloudServer, grant_for: GrantRecords
) -> None:
    kept, gone = store_one(vault, "alice", 1), store_one(vault, "alice", 2)
    grant_for([kept, gone])
    assert len(Uploader(vault).upload()) == 2
    vault.delete(gone)
    (req,) = pending_erasures(vault.connection)
    assert (req.endpoint, req.records, req.reason) == (cloud.url, (gone,), "deleted")

    def down(request: HttpRequest) -> HttpResponse:
        raise SendError(f"{request.url}: cannot reach the endpoint", 0)

    (tried,) = ErasureSender(vault, transport=down).send_pending()
    assert tried.confirmed_at is None and "cannot reach" in tried.last_error
    assert [r.request_id for r in pending_erasures(vault.connection)] == [req.request_id]
    assert build_report(vault.connection).erasures_pending == 1
    assert {i.record for i in cloud.store.items()} == {kept, gone}  # not erased yet

    (done,) = ErasureSender(vault).send_pending()
    assert done.confirmed_at is not None and done.attempts == 2
    assert pending_erasures(vault.connection) == []
    assert [i.record for i in cloud.store.items()] == [kept]
    assert build_report(vault.connection).erasures_pending == 0
    events = [
        (e.event, e.details.get("request"))
        for e in audit.entries(vault.connection)
        if e.event.startswith("erasure_")
    ]
    assert events == [("erasure_requested", req.request_id), ("erasure_confirmed", req.request_id)]


def test_forgetting_a_member_erases_everything_of_theirs_at_every_endpoint(
    vault: Vault, cloud: CloudServer, other_cloud: CloudServer, grant_for: GrantRecords
) -> None:
    rids = [store_one(vault, "alice", s) for s in (1, 2)]
    bobs = store_one(vault, "bob", 3)
    grant_for(rids)
    grant_for([bobs], member="bob")
    # A grant to another endpoint that never received anything: it gets no request.
    grant_all_future(
        vault,
        member="alice",
        purpose="p",
        endpoint=other_cloud.url,
        recipient=other_cloud.store.recipient,
    )
    assert len(Uploader(vault).upload()) == 3
    vault.forget("alice")
    (req,) = pending_erasures(vault.connection)
    assert req.endpoint == cloud.url and set(req.records) == set(rids)
    assert [r.confirmed_at is not None for r in ErasureSender(vault).send_pending()] == [True]
    assert [i.record for i in cloud.store.items()] == [bobs]
    assert pending_erasures(vault.connection) == []
    # One request was ever made, for the forgetting, and it is confirmed.
    requested = audit.entries(vault.connection, event="erasure_requested")
    assert [(e.details["request"], e.details["reason"]) for e in requested] == [
        (req.request_id, "forgotten")
    ]


def test_a_vault_written_by_the_previous_keepmum_migrates_to_the_upload_ledger(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    (home / "keys").mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    shutil.copyfile(V1_VAULT, home / "vault.db")
    (home / "vault.db").chmod(0o600)
    # Its key file, by name as version 1 kept them (verify reports a member without one).
    (home / "keys" / "alice.identity.age").write_bytes(b"not needed here")
    (home / "keys" / "alice.identity.age").chmod(0o600)
    raw = sqlite3.connect(home / "vault.db")
    assert schema_version(raw) == 1
    raw.close()
    with Vault.open(home, clock=FakeClock()) as v:
        assert schema_version(v.connection) == SCHEMA_VERSION == 7
        assert len(v.records("alice")) == 2
        assert verify_vault(v).ok
        assert audit.verify_chain(v.connection) == []
        before = build_report(v.connection)
        assert before.uploaded_bytes > 0 and before.unconfirmed_bytes == 0
        # Version-1 uploads (no attempts, no upload ids) still reach erasure: by record id.
        rid = v.records("alice")[0].id
        v.delete(rid)
        (req,) = pending_erasures(v.connection)
        assert req.records == (rid,) and req.uploads == () and req.endpoint.endswith(":9")
    with Vault.open(home, clock=FakeClock()) as v:  # and it opens again, unchanged
        assert schema_version(v.connection) == SCHEMA_VERSION and len(v.records()) == 1


def test_a_queued_copy_its_grant_does_not_cover_is_never_sent(
    vault: Vault, cloud: CloudServer, grant_for: GrantRecords, home: Path
) -> None:
    # The grant names r1; its queue row is pointed at r2 (alice's too, never granted), as a
    # stale or edited queue could: the check at send time refuses it, whatever was queued.
    granted = store_one(vault, "alice", 1)
    other = store_one(vault, "alice", 2)
    grant_for([granted])
    raw = sqlite3.connect(home / "vault.db", isolation_level=None)
    raw.execute("UPDATE upload_queue SET record_id = ? WHERE record_id = ?", (other, granted))
    raw.close()
    assert [q.record_id for q in queued(vault.connection)] == [other]
    assert Uploader(vault).plan() == []
    assert Uploader(vault).upload() == []
    assert cloud.store.items() == []


def test_one_run_reads_the_grants_chain_binding_once_and_a_revoke_mid_run_stops_the_rest(
    vault: Vault, cloud: CloudServer, grant_for: GrantRecords
) -> None:
    # The binding check (the audit chain's consent entries against the ledger) costs a read of
    # the chain's consent entries: once per grant and run, not once per record (that was
    # O(records x chain)). Liveness is still read per record: a revoke committed after the
    # second record leaves stops the third and fourth.
    rids = [store_one(vault, "alice", seed) for seed in range(4)]
    gid = grant_for(rids)[0].grant_id
    chain_reads: list[str] = []

    def count(sql: str) -> None:
        if "FROM audit" in sql and "'consent_granted'" in sql:
            chain_reads.append(sql)

    delivered: list[str] = []
    real = HttpClientTransport(timeout_s=10)

    def revoke_after_two(request: HttpRequest) -> HttpResponse:
        answer = real(request)
        delivered.append(request.headers["X-Keepmum-Record"])
        if len(delivered) == 2:
            revoke(vault, gid)
        return answer

    vault.connection.set_trace_callback(count)
    try:
        sent = Uploader(vault, transport=revoke_after_two).upload()
    finally:
        vault.connection.set_trace_callback(None)
    assert len(chain_reads) == 1
    assert [s.record for s in sent] == rids[:2] == delivered
    assert sorted(i.record for i in cloud.store.items()) == sorted(rids[:2])
    assert len(audit.entries(vault.connection, event="upload_started")) == 2
    assert queued(vault.connection) == []


def test_a_busy_receiver_is_a_clear_retryable_failure_and_the_copy_is_sent_next_run(
    vault: Vault, home: Path, tmp_path: Path, grant_for: GrantRecords
) -> None:
    # The test's receiver store (its identity, so the grant's copies open there) served with
    # one connection slot, held by an idle client: the upload's connection is over the limit,
    # answered 503 with Retry-After, and the copy stays queued.
    store = CloudStore(tmp_path / "cloud")
    limits = ReceiverLimits(max_connections=1, request_timeout_s=30)
    with _serving(CloudServer(store, "127.0.0.1", 0, limits=limits)) as srv:
        remember_access(home, srv.url, EndpointAccess(store.token))
        rid = store_one(vault, "alice", 1)
        grant_for([rid], endpoint=srv.url)
        host, port = srv.server_address[:2]
        with socket.create_connection((str(host), port), timeout=30):
            time.sleep(0.5)  # accepted: it holds the one slot
            with pytest.raises(UploadError, match=r"busy \(got 503; send again in 1 s"):
                Uploader(vault).upload()
        assert len(queued(vault.connection)) == 1 and store.items() == []
        (failed,) = audit.entries(vault.connection, event="upload_failed")
        assert failed.details["status"] == 503
        for _ in range(50):  # the idle client's handler sees the close and frees the slot
            with contextlib.suppress(UploadError):
                if Uploader(vault).upload():
                    break
            time.sleep(0.1)
    assert [it.record for it in store.items()] == [rid] and queued(vault.connection) == []


@contextlib.contextmanager
def _serving(srv: CloudServer) -> Iterator[CloudServer]:
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join()


def test_a_record_kept_after_an_all_future_grant_is_sent(
    vault: Vault, cloud: CloudServer, clock: FakeClock
) -> None:
    # The check at send time compares the record's creation with the grant's: a record kept
    # after the grant is covered and sent.
    grant_all_future(
        vault, member="alice", purpose="p", endpoint=cloud.url, recipient=cloud.store.recipient
    )
    clock.advance(1.0)
    rid = store_one(vault, "alice", 1)
    assert [r.record for r in Uploader(vault).upload()] == [rid]
    assert [i.record for i in cloud.store.items()] == [rid]
