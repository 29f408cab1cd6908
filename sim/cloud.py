"""The local receiving "cloud": what a consented upload delivers, shown decrypted.

``keepmum cloud serve`` runs this receiver so that a user can see exactly what left the device.
It has its own age X25519 identity, kept in its own folder (never the device's keys folder);
it publishes the recipient, stores what it receives still encrypted, and lists it decrypted.

HTTP interface (loopback by default): the one :mod:`storage.wire` draws, plus
``GET /received`` (200 application/json, [item, ...] as :meth:`CloudStore.describe` gives).
Every route but ``GET /recipient`` needs ``Authorization: Bearer <token>`` (401 without it), the
token being the one in ``token.txt``; a request whose ``Host`` is not the served address gets
421; see :class:`ReceiverLimits` for the quota, store limit and timeouts, and
docs/security/receiver.md for the whole of it.

Store layout (``folder``, mode 0700; ``keepmum cloud serve --data DIR``)::

    identity.txt      the receiver's age identity (0600), in the clear: it belongs to the
                      receiving party, not to the device, and must never sit in a device home
    token.txt         the receiver's bearer token (0600): whoever sends it may upload, list
                      and erase; a device learns it when its grant is made
    erased.txt        tombstones (0600): one "upload ID", "record ID" or "sha256 HEX" line
                      per thing erased, so that an erased upload sent again is refused (410)
    received/         0700
    received/N.age    the ciphertext exactly as it arrived (0600)
    received/N.json   its headers, size, sha256 and arrival time (0600)

Like a member's identity, ``identity.txt`` is refused (PermissionsError) when it is not a
regular file, is accessible to group or others, or belongs to another user, and so is a folder
open to group or others. New requests (an erasure request, say) are new paths beside these.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import io
import json
import os
import secrets
import shutil
import socket
import ssl
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyrage

from keepmum.errors import IntegrityError, UploadError, VaultError
from keepmum.files import write_file
from storage.private import check_private
from storage.records import AGE_MAGIC
from storage.wire import (
    ERASE_PATH,
    HEADER_GRANT,
    HEADER_MEMBER,
    HEADER_PURPOSE,
    HEADER_RECORD,
    HEADER_UPLOAD_ID,
    MAX_ERASE_BYTES,
    MAX_UPLOAD_BYTES,
    RECIPIENT_PATH,
    UPLOAD_PATH,
    decode_header,
)

__all__ = [
    "CloudServer",
    "CloudStore",
    "ErasedError",
    "ReceivedItem",
    "ReceiverLimits",
    "wav_duration_s",
]

_META_HEADERS = {
    HEADER_GRANT: "grant",
    HEADER_RECORD: "record",
    HEADER_MEMBER: "member",
    HEADER_PURPOSE: "purpose",
}

TOKEN_FILE = "token.txt"
TOMBSTONE_FILE = "erased.txt"
MIB = 1024 * 1024
LINGER_S = 2.0
"""How long a refused body is read and dropped before the connection closes (a lingering close)."""
LINGER_BYTES = 16 * MIB
"""The most of a refused body read and dropped; past it the client sees the connection close."""
RETRY_AFTER_S = 1
"""What a connection over the limit is told to wait before sending again (``Retry-After``)."""
BUSY_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: %d\r\n"
    b"Connection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s"
)
BUSY_BODY = b'{"error": "the receiver has no free connection; send again later"}\n'


def wav_duration_s(wav: bytes, where: str) -> float:
    """Duration of an in-memory WAV (seconds); IntegrityError naming ``where`` if unparsable."""
    try:
        with wave.open(io.BytesIO(wav), "rb") as reader:
            return reader.getnframes() / reader.getframerate()
    except (wave.Error, EOFError, ZeroDivisionError) as exc:
        raise IntegrityError(f"{where}: not a WAV file ({exc})") from exc


class ErasedError(UploadError):
    """An upload of something this receiver erased already (the sender gets 410)."""


@dataclass(frozen=True)
class ReceiverLimits:
    """What one receiver accepts: sizes, time and connections (``keepmum cloud serve`` options)."""

    grant_quota_bytes: int = 256 * MIB
    """Most ciphertext bytes stored for one grant (413 past it)."""
    store_limit_bytes: int = 1024 * MIB
    """Most ciphertext bytes stored in all (507 past it, or when the disk has no room)."""
    request_timeout_s: float = 30.0
    """Total time a client has to send one request, headers and body (then it is cut off)."""
    max_connections: int = 32
    """Connections served at once. As many more are answered 503 with ``Retry-After`` (and
    their request drained, for at most ``LINGER_S``); past that, closed unanswered. A served
    connection that drains a refused body after its answer frees its slot first."""
    inflight_bytes: int = MAX_UPLOAD_BYTES
    """Most upload body bytes held in memory at once over all requests (503 past it)."""
    allowed_hosts: tuple[str, ...] = ()
    """Extra names a client may give in ``Host`` (besides the served address)."""


@dataclass(frozen=True)
class ReceivedItem:
    """One upload as it arrived: the sender's headers and the ciphertext's size and hash."""

    number: int
    grant: str
    record: str
    member: str
    purpose: str
    bytes: int
    sha256: str
    """SHA-256 of the ciphertext as received."""
    received_at: float
    upload_id: str = ""
    """The sender's upload id (empty for uploads from before upload ids existed)."""
    duplicate: bool = False
    """True when :meth:`CloudStore.receive` found this upload id already stored."""


def _shred(path: Path) -> None:
    """Overwrite a ciphertext with random bytes, on disk, before it is unlinked."""
    with open(path, "r+b") as fh:
        fh.write(os.urandom(path.stat().st_size))
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()


def _read_secret_file(path: Path, what: str, create: Callable[[], bytes]) -> str:
    """The text of a private file of this receiver, made (0600) from ``create()`` if missing."""
    if not path.exists():
        write_file(path, create())  # 0600 from the first byte
    check_private(path, what, folder=False)
    return path.read_text(encoding="ascii")


class CloudStore:
    """The receiver's identity and token, and its folder of received ciphertexts."""

    def __init__(self, folder: Path, *, clock: Callable[[], float] = time.time) -> None:
        """Open (creating if needed) a receiver store in ``folder``."""
        self.folder = folder
        self._clock = clock
        self._lock = threading.Lock()
        self._received = folder / "received"
        for path in (folder, self._received):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            check_private(path, "receiver folder", folder=True)

        def new_identity() -> bytes:
            identity = pyrage.x25519.Identity.generate()
            text = f"# keepmum cloud receiver\n# public key: {identity.to_public()}\n{identity}\n"
            return text.encode("ascii")

        identity_file = folder / "identity.txt"
        self.identity = self._parse_identity(
            identity_file, _read_secret_file(identity_file, "receiver identity", new_identity)
        )
        self.recipient = str(self.identity.to_public())
        self.token_file = folder / TOKEN_FILE
        self.token = _read_secret_file(
            self.token_file,
            "receiver token",
            lambda: f"kmr_{secrets.token_hex(32)}\n".encode("ascii"),
        ).strip()
        if not self.token:
            raise VaultError(f"{self.token_file}: empty; delete it to make a new token")
        self._tombstones = folder / TOMBSTONE_FILE

    @staticmethod
    def _parse_identity(path: Path, text: str) -> pyrage.x25519.Identity:
        lines = [ln for ln in text.splitlines() if ln.startswith("AGE-SECRET-KEY-")]
        if len(lines) != 1:
            raise VaultError(f"{path}: expected one AGE-SECRET-KEY line, got {len(lines)}")
        try:
            return pyrage.x25519.Identity.from_str(lines[0])
        except pyrage.IdentityError as exc:
            raise VaultError(f"{path}: not an age identity ({exc})") from exc

    def authorized(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header value carries this receiver's token."""
        scheme, _, given = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self.token.encode())

    def tombstones(self) -> set[str]:
        """Every ``"upload ID"``, ``"record ID"`` and ``"sha256 HEX"`` erased here."""
        if not self._tombstones.exists():
            return set()
        check_private(self._tombstones, "receiver tombstones", folder=False)
        return {ln.strip() for ln in self._tombstones.read_text().splitlines() if ln.strip()}

    def _bury(self, lines: Sequence[str]) -> None:
        # Appended and synced before anything is shredded: an erasure never comes back.
        if not lines:
            return
        fd = os.open(self._tombstones, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, "".join(f"{ln}\n" for ln in lines).encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def stored_bytes(self, grant: str | None = None) -> int:
        """Ciphertext bytes stored, of one grant or (``None``) of all."""
        return sum(it.bytes for it in self.items() if grant is None or it.grant == grant)

    def receive(self, ciphertext: bytes, headers: Mapping[str, str]) -> ReceivedItem:
        """Check ``ciphertext`` opens with this receiver's identity, then store it as it came.

        Raises UploadError (the sender gets 400) for anything that is not age ciphertext to
        this receiver, so a misdirected upload is refused rather than kept unreadable, and
        ErasedError (410) for an upload id, record or ciphertext erased here before.
        """
        if not ciphertext.startswith(AGE_MAGIC):
            raise UploadError("upload: body is not age ciphertext (no age-encryption.org/v1)")
        try:
            pyrage.decrypt(ciphertext, [self.identity])
        except pyrage.DecryptError as exc:
            raise UploadError(f"upload: not encrypted to this receiver ({exc})") from exc
        lowered = {k.lower(): v for k, v in headers.items()}
        meta = {v: decode_header(lowered.get(k.lower(), "")) for k, v in _META_HEADERS.items()}
        upload_id = decode_header(lowered.get(HEADER_UPLOAD_ID.lower(), "")).strip()
        sha256 = hashlib.sha256(ciphertext).hexdigest()
        with self._lock:
            buried = self.tombstones()
            marks = {f"upload {upload_id}", f"record {meta['record']}", f"sha256 {sha256}"}
            if marks & buried:
                raise ErasedError("upload: erased here before; refused and not stored")
            if upload_id:
                for seen in self.items():
                    if seen.upload_id == upload_id:  # a resend: keep the one copy we have
                        return dataclasses.replace(seen, duplicate=True)
            number = 1 + max((int(p.stem) for p in self._received.glob("*.json")), default=0)
            item = ReceivedItem(
                number=number,
                bytes=len(ciphertext),
                sha256=sha256,
                received_at=self._clock(),
                grant=meta["grant"],
                record=meta["record"],
                member=meta["member"],
                purpose=meta["purpose"],
                upload_id=upload_id,
            )
            write_file(self._received / f"{number}.age", ciphertext, overwrite=True)
            write_file(
                self._received / f"{number}.json", json.dumps(asdict(item)).encode(), overwrite=True
            )
        return item

    def drop_unacknowledged(self) -> list[str]:
        """Shred what a receiver stopped mid-write left behind, and return the file names.

        An upload is stored as ``N.age`` and then ``N.json``; only then is it acknowledged. A stop
        between the two (or inside either) leaves a ciphertext no listing shows and no erasure
        request finds, for an upload its sender was never told arrived (it resends it, or
        gave up because consent was revoked). Call it before serving, never while another
        process serves this store: an upload in flight looks the same.
        """
        dropped = []
        with self._lock:
            for path in sorted(self._received.iterdir()):
                stray = path.name.startswith(".") and path.name.endswith(".tmp")
                orphan = path.suffix == ".age" and not path.with_suffix(".json").exists()
                if (stray or orphan) and path.is_file() and not path.is_symlink():
                    _shred(path)
                    dropped.append(path.name)
        return dropped

    def erase(self, upload_ids: Sequence[str], records: Sequence[str]) -> list[int]:
        """Delete every item with one of ``upload_ids`` or ``records``; their numbers.

        Every id asked for is remembered first (a tombstone, whether or not it was stored
        yet), with the hash of each ciphertext erased, so that it is never stored again.
        The ciphertext is overwritten before it is unlinked; the item's metadata goes with it.
        Unknown ids are not an error, so a retried request is confirmed all the same.
        """
        wanted_uploads, wanted_records = set(upload_ids) - {""}, set(records) - {""}
        erased = []
        with self._lock:
            doomed = [
                it
                for it in self.items()
                if it.upload_id in wanted_uploads or it.record in wanted_records
            ]
            marks = [f"upload {u}" for u in sorted(wanted_uploads)]
            marks += [f"record {r}" for r in sorted(wanted_records)]
            marks += [f"sha256 {it.sha256}" for it in doomed]
            buried = self.tombstones()
            self._bury([m for m in marks if m not in buried])
            for item in doomed:
                age_file = self._received / f"{item.number}.age"
                if age_file.exists():
                    _shred(age_file)
                (self._received / f"{item.number}.json").unlink(missing_ok=True)
                erased.append(item.number)
        return erased

    def items(self) -> list[ReceivedItem]:
        """Everything received, in arrival order."""
        found = []
        for path in self._received.glob("*.json"):
            fields = json.loads(path.read_text())
            fields.pop("duplicate", None)
            found.append(ReceivedItem(**fields))
        return sorted(found, key=lambda it: it.number)

    def decrypt(self, item: ReceivedItem) -> bytes:
        """The plaintext of a received item (a WAV); IntegrityError if it no longer matches."""
        path = self._received / f"{item.number}.age"
        ciphertext = path.read_bytes()
        if hashlib.sha256(ciphertext).hexdigest() != item.sha256:
            raise IntegrityError(f"{path}: sha256 differs from the one recorded at arrival")
        try:
            return pyrage.decrypt(ciphertext, [self.identity])
        except pyrage.DecryptError as exc:
            raise IntegrityError(f"{path}: does not decrypt with this receiver ({exc})") from exc

    def describe(self, item: ReceivedItem) -> dict[str, Any]:
        """An item as shown to users: headers, ciphertext size, and the decrypted WAV's facts."""
        wav = self.decrypt(item)
        return {
            **asdict(item),
            "wav_bytes": len(wav),
            "wav_sha256": hashlib.sha256(wav).hexdigest(),
            "duration_s": wav_duration_s(wav, f"received item {item.number}"),
        }


def _drain(sock: socket.socket, most_bytes: int) -> None:
    """Read and drop up to ``most_bytes`` for at most ``LINGER_S`` (a lingering close)."""
    deadline = time.monotonic() + LINGER_S
    sock.settimeout(LINGER_S)
    while most_bytes > 0 and time.monotonic() < deadline:
        chunk = sock.recv(min(most_bytes, 65536))
        if not chunk:
            return
        most_bytes -= len(chunk)


def _answer_busy(sock: socket.socket) -> None:
    """Tell a connection over the limit to come back (503, ``Retry-After``), then drain what it
    sends, so that it reads the answer instead of a reset; within ``LINGER_S``."""
    with contextlib.suppress(OSError):
        sock.settimeout(LINGER_S)
        if isinstance(sock, ssl.SSLSocket):
            sock.do_handshake()
        sock.sendall(BUSY_ANSWER % (RETRY_AFTER_S, len(BUSY_BODY), BUSY_BODY))
        _drain(sock, LINGER_BYTES)


class _Handler(BaseHTTPRequestHandler):
    server: CloudServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        # A total deadline for the request to arrive, not only a per-read timeout: a client
        # that sends one byte a second never trips a per-read timeout but trips this one.
        limits = self.server.limits
        self.request.settimeout(limits.request_timeout_s)  # and each read or write, too
        self._watchdog = threading.Timer(limits.request_timeout_s, self._cut)
        self._watchdog.daemon = True
        self._watchdog.start()
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()  # here, in this thread, under the deadline

    def finish(self) -> None:
        self._watchdog.cancel()
        with contextlib.suppress(OSError):
            super().finish()
            # The answer is out: draining a refused body must not keep others from being served.
            self.server.free_slot(self.request)
            with self.server.draining() as allowed:
                if allowed:
                    self._linger()

    def _linger(self) -> None:
        """After refusing a body it did not read (401, 413, ...), read and drop what the client
        is still sending, for a moment and up to a bound: closing at once would reset the
        connection, and the client would see a broken pipe instead of the answer."""
        headers = getattr(self, "headers", None)  # none when the client sent no request
        length_text = headers.get("Content-Length", "") if headers else ""
        if getattr(self, "_body_read", True) or not length_text.isdigit():
            return
        _drain(self.request, min(int(length_text), LINGER_BYTES))

    def _cut(self) -> None:
        with contextlib.suppress(OSError):
            self.request.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the command prints what arrived through its own callback."""

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self._watchdog.cancel()  # the request has arrived; the answer is ours to send
        self.close_connection = True  # one request per connection: each under its deadline
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="keepmum cloud"')
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._reply(status, json.dumps(obj).encode() + b"\n", "application/json")

    def _describe(self, item: ReceivedItem) -> dict[str, Any]:
        try:
            return self.server.store.describe(item)
        except IntegrityError as exc:
            return {**asdict(item), "error": str(exc)}

    def _admitted(self, *, public: bool = False) -> bool:
        """Host is this receiver (else 421) and, unless ``public``, the caller has the token
        (else 401); answers and returns False when not."""
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.host_names():
            self._json(421, {"error": f"Host {host[:100]!r} is not this receiver"})
            return False
        if not public and not self.server.store.authorized(self.headers.get("Authorization")):
            self._json(401, {"error": "this receiver needs its token (Authorization: Bearer)"})
            return False
        return True

    def do_GET(self) -> None:
        store = self.server.store
        if not self._admitted(public=self.path == RECIPIENT_PATH):
            return
        if self.path == RECIPIENT_PATH:
            self._reply(200, store.recipient.encode() + b"\n", "text/plain; charset=utf-8")
        elif self.path == "/received":
            self._json(200, [self._describe(it) for it in store.items()])
        else:
            self._json(404, {"error": f"no such path {self.path!r}"})

    def _erase(self) -> None:
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit() or int(length_text) > MAX_ERASE_BYTES:
            self._json(411, {"error": f"Content-Length up to {MAX_ERASE_BYTES} required"})
            return
        try:
            self._body_read = True
            request = json.loads(self.rfile.read(int(length_text)))
            request_id = str(request["request"])
            uploads = [str(u) for u in request.get("uploads", [])]
            records = [str(r) for r in request.get("records", [])]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self._json(400, {"error": f"erase: expected a JSON erasure request ({exc})"})
            return
        erased = self.server.store.erase(uploads, records)
        self._json(200, {"request": request_id, "confirmed": True, "erased": len(erased)})

    def _room_for(self, length: int) -> tuple[int, str] | None:
        """(status, reason) when an upload of ``length`` bytes must be refused before reading."""
        store, limits = self.server.store, self.server.limits
        if length > MAX_UPLOAD_BYTES:
            return 413, f"body of {length} bytes exceeds {MAX_UPLOAD_BYTES}"
        grant = decode_header(self.headers.get(HEADER_GRANT, ""))
        if store.stored_bytes(grant) + length > limits.grant_quota_bytes:
            return 413, f"grant {grant[:40]!r} would pass its quota of {limits.grant_quota_bytes}"
        if store.stored_bytes() + length > limits.store_limit_bytes:
            return 507, f"the store would pass its limit of {limits.store_limit_bytes} bytes"
        if shutil.disk_usage(store.folder).free < 2 * length + MIB:
            return 507, "the receiver's disk has no room for this upload"
        return None

    def do_POST(self) -> None:
        self._body_read = False  # until it is: then finish() need not linger
        if not self._admitted():
            return
        if self.path == ERASE_PATH:
            self._erase()
            return
        if self.path != UPLOAD_PATH:
            self._json(404, {"error": f"no such path {self.path!r}"})
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self._json(411, {"error": "Content-Length required"})
            return
        length = int(length_text)
        refusal = self._room_for(length)
        if refusal is not None:
            self._json(refusal[0], {"error": refusal[1]})
            return
        if not self.server.reserve(length):
            self._json(503, {"error": "the receiver is busy; send again later"})
            return
        try:
            self._body_read = True
            body = self.rfile.read(length)
            self._watchdog.cancel()
            if len(body) < length:
                return  # the client went away (or was cut off): nothing to store or answer
            self._store(body)
        finally:
            self.server.release(length)

    def _store(self, body: bytes) -> None:
        try:
            item = self.server.store.receive(body, dict(self.headers.items()))
        except ErasedError as exc:
            self._json(410, {"error": str(exc)})
            return
        except UploadError as exc:
            self._json(400, {"error": str(exc)})
            return
        if item.duplicate:
            self._json(
                200,
                {
                    "received": item.number,
                    "bytes": item.bytes,
                    "sha256": item.sha256,
                    "duplicate": True,
                },
            )
            return
        self._json(201, {"received": item.number, "bytes": item.bytes, "sha256": item.sha256})
        if self.server.on_receive is not None:
            self.server.on_receive(item)


class CloudServer(ThreadingHTTPServer):
    """The receiver's HTTP server; ``port=0`` picks a free port (see :attr:`url`).

    ``tls``: a server-side SSL context (certificate and key loaded) to serve https.
    """

    daemon_threads = True

    def __init__(
        self,
        store: CloudStore,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_receive: Callable[[ReceivedItem], None] | None = None,
        limits: ReceiverLimits | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """Bind to ``host:port`` (loopback unless told otherwise); serve with serve_forever()."""
        self.store = store
        self.on_receive = on_receive
        self.limits = limits if limits is not None else ReceiverLimits()
        self._slots = threading.BoundedSemaphore(self.limits.max_connections)
        self._holding: set[Any] = set()
        """Connections that hold a slot (until answered, see :meth:`free_slot`)."""
        self._holding_lock = threading.Lock()
        self._drains = threading.BoundedSemaphore(self.limits.max_connections)
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        super().__init__((host, port), _Handler)
        self.scheme = "http"
        if tls is not None:
            # The handshake waits for the handler's thread (and its deadline), not accept().
            self.socket = tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )
            self.scheme = "https"

    def host_names(self) -> set[str]:
        """Every ``Host`` value served: this address, localhost on loopback, allowed names."""
        host, port = self.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else str(host)
        names = {f"[{shown}]" if ":" in shown else shown, *self.limits.allowed_hosts}
        if shown.startswith("127.") or shown == "::1":
            names.add("localhost")
        default_port = 443 if self.scheme == "https" else 80
        found = {f"{n.lower()}:{port}" for n in names}
        if port == default_port:
            found |= {n.lower() for n in names}
        return found

    def reserve(self, length: int) -> bool:
        """Hold ``length`` bytes of the in-memory budget for one body; False if it has none."""
        with self._inflight_lock:
            if self._inflight + length > self.limits.inflight_bytes:
                return False
            self._inflight += length
            return True

    def release(self, length: int) -> None:
        """Give back what :meth:`reserve` held."""
        with self._inflight_lock:
            self._inflight -= length

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve in a thread if a connection slot is free; else answer 503 in a thread if a
        drain is free (:func:`_answer_busy`); else close the connection at once."""
        if not self._slots.acquire(blocking=False):
            if not self._drains.acquire(blocking=False):
                self.shutdown_request(request)
                return
            threading.Thread(target=self._busy, args=(request,), daemon=True).start()
            return
        with self._holding_lock:
            self._holding.add(request)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.free_slot(request)
            raise

    def _busy(self, request: Any) -> None:
        try:
            _answer_busy(request)
        finally:
            self._drains.release()
            self.shutdown_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """One connection, in its own thread; its slot is freed when it is answered or ends."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.free_slot(request)

    def free_slot(self, request: Any) -> None:
        """Give back the slot ``request`` holds (once; later calls do nothing)."""
        with self._holding_lock:
            if request not in self._holding:
                return
            self._holding.discard(request)
        self._slots.release()

    @contextlib.contextmanager
    def draining(self) -> Iterator[bool]:
        """Whether a refused body may be drained now (True while a drain is free)."""
        allowed = self._drains.acquire(blocking=False)
        try:
            yield allowed
        finally:
            if allowed:
                self._drains.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client cut off or gone (timeout, reset, failed handshake) is not worth a trace."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        """The base URL to grant consent to (``http://host:port``, or ``https://``)."""
        host, port = self.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else host
        if ":" in shown:
            shown = f"[{shown}]"
        return f"{self.scheme}://{shown}:{port}"
