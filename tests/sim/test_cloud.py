"""The local receiver, over real HTTP on 127.0.0.1: recipient, upload, listing, refusals."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyrage
import pytest

from keepmum.errors import IntegrityError
from sim.cloud import CloudServer, CloudStore
from storage.upload import HttpClientTransport, HttpRequest, fetch_recipient
from storage.wav import pcm_to_wav
from storage.wire import (
    HEADER_GRANT,
    HEADER_MEMBER,
    HEADER_PURPOSE,
    HEADER_RECORD,
    HEADER_UPLOAD_ID,
    encode_header,
)
from tests.storage.conftest import serve


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CloudServer]:
    (tmp_path / "home").mkdir(mode=0o700)
    yield from serve(tmp_path / "cloud", tmp_path / "home")


def _auth(server: CloudServer) -> dict[str, str]:
    """The header every caller but a recipient fetch must send: the receiver's token."""
    return {"Authorization": f"Bearer {server.store.token}"}


def _wav(n_samples: int = 16000) -> bytes:
    rng = np.random.default_rng(7)
    return pcm_to_wav(rng.integers(-3000, 3000, n_samples, dtype=np.int16))


def _post(server: CloudServer, body: bytes, member: str = "alice") -> tuple[int, bytes]:
    headers = {
        **_auth(server),
        HEADER_GRANT: "g-1",
        HEADER_RECORD: "r1",
        HEADER_MEMBER: encode_header(member),
        HEADER_PURPOSE: encode_header("help: improve wake word"),
    }
    resp = HttpClientTransport(timeout_s=10)(
        HttpRequest("POST", server.url + "/upload", headers, body)
    )
    return resp.status, resp.body


def test_store_keeps_its_identity_private_and_stable(tmp_path: Path) -> None:
    first = CloudStore(tmp_path / "c")
    again = CloudStore(tmp_path / "c")
    assert first.recipient == again.recipient
    assert first.recipient.startswith("age1")
    assert stat.S_IMODE((tmp_path / "c").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "c" / "identity.txt").stat().st_mode) == 0o600


def test_served_recipient_receives_and_lists_decrypted(server: CloudServer) -> None:
    recipient = fetch_recipient(server.url, HttpClientTransport(timeout_s=10))
    assert recipient == server.store.recipient
    wav = _wav()
    ciphertext = pyrage.encrypt(wav, [pyrage.x25519.Recipient.from_str(recipient)])
    status, body = _post(server, ciphertext, member="zoë")
    assert status == 201
    assert json.loads(body)["bytes"] == len(ciphertext)
    listing = HttpClientTransport(timeout_s=10)(
        HttpRequest("GET", server.url + "/received", _auth(server))
    )
    items = json.loads(listing.body)
    assert len(items) == 1
    got = items[0]
    assert got["member"] == "zoë" and got["record"] == "r1" and got["grant"] == "g-1"
    assert got["purpose"] == "help: improve wake word"
    assert got["wav_sha256"] == hashlib.sha256(wav).hexdigest()
    assert got["duration_s"] == pytest.approx(1.0)
    assert server.store.decrypt(server.store.items()[0]) == wav
    # Stored as it came: ciphertext only, never the WAV.
    stored = list((server.store.folder / "received").glob("*.age"))
    assert [p.read_bytes() for p in stored] == [ciphertext]


def test_refuses_what_it_cannot_open(server: CloudServer) -> None:
    stranger = pyrage.x25519.Identity.generate().to_public()
    status, body = _post(server, pyrage.encrypt(_wav(), [stranger]))
    assert status == 400 and b"not encrypted to this receiver" in body
    status, _ = _post(server, _wav())  # plaintext audio is refused too
    assert status == 400
    assert server.store.items() == []


def test_unknown_paths_are_404(server: CloudServer) -> None:
    send = HttpClientTransport(timeout_s=10)
    assert send(HttpRequest("GET", server.url + "/secret", _auth(server))).status == 404
    assert send(HttpRequest("POST", server.url + "/elsewhere", _auth(server), b"x")).status == 404


def test_tampered_store_is_reported(server: CloudServer) -> None:
    recipient = pyrage.x25519.Recipient.from_str(server.store.recipient)
    assert _post(server, pyrage.encrypt(_wav(), [recipient]))[0] == 201
    item = server.store.items()[0]
    path = server.store.folder / "received" / f"{item.number}.age"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="sha256 differs"):
        server.store.decrypt(item)


def test_binds_loopback_by_default(tmp_path: Path) -> None:
    srv = CloudServer(CloudStore(tmp_path / "c"))
    try:
        assert srv.server_address[0] == "127.0.0.1"
        assert srv.url.startswith("http://127.0.0.1:")
    finally:
        srv.server_close()


def test_a_resend_under_the_same_upload_id_is_stored_once_and_erase_deletes_it(
    server: CloudServer,
) -> None:
    body = pyrage.encrypt(_wav(), [pyrage.x25519.Recipient.from_str(server.store.recipient)])
    send = HttpClientTransport(timeout_s=10)
    headers = {**_auth(server), HEADER_RECORD: "r1", HEADER_UPLOAD_ID: "u" * 32}
    first = send(HttpRequest("POST", server.url + "/upload", headers, body))
    again = send(HttpRequest("POST", server.url + "/upload", headers, body))
    assert (first.status, again.status) == (201, 200)
    assert json.loads(again.body)["duplicate"] is True
    assert [(i.record, i.upload_id) for i in server.store.items()] == [("r1", "u" * 32)]
    other_headers = {**_auth(server), HEADER_RECORD: "r2"}
    other = send(HttpRequest("POST", server.url + "/upload", other_headers, body))
    assert other.status == 201 and len(server.store.items()) == 2

    request = json.dumps({"request": "e-1", "uploads": ["u" * 32], "records": []}).encode()
    erased = send(HttpRequest("POST", server.url + "/erase", _auth(server), request))
    assert erased.status == 200
    assert json.loads(erased.body) == {"request": "e-1", "confirmed": True, "erased": 1}
    assert [i.record for i in server.store.items()] == ["r2"]
    assert not (server.store.folder / "received" / "1.age").exists()
    again_erased = send(
        HttpRequest("POST", server.url + "/erase", _auth(server), request)
    )  # idempotent
    assert json.loads(again_erased.body)["erased"] == 0
    bad = send(HttpRequest("POST", server.url + "/erase", _auth(server), b"not json"))
    assert bad.status == 400


def test_what_a_stop_mid_write_left_is_shredded_before_serving_and_the_rest_stays(
    tmp_path: Path,
) -> None:
    store = CloudStore(tmp_path / "cloud")
    body = pyrage.encrypt(_wav(), [pyrage.x25519.Recipient.from_str(store.recipient)])
    kept = store.receive(body, {HEADER_RECORD: "r1"})
    received = store.folder / "received"
    # A stop after N.age and before N.json, and one inside write_file (its temporary file).
    (received / "2.age").write_bytes(body)
    (received / ".3.age.x1y2.tmp").write_bytes(body[:100])
    assert store.drop_unacknowledged() == [".3.age.x1y2.tmp", "2.age"]
    assert sorted(p.name for p in received.iterdir()) == ["1.age", "1.json"]
    assert store.items() == [kept] and store.decrypt(kept) == _wav()
    assert store.drop_unacknowledged() == []
    # The sender was never told, so it resends: stored once, as the next number.
    again = store.receive(body, {HEADER_RECORD: "r2"})
    assert again.number == 2 and [i.record for i in store.items()] == ["r1", "r2"]
