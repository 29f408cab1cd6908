"""The local receiving "cloud": what a consented upload delivers, shown decrypted.

``keepmum cloud serve`` runs this receiver so that a user can see exactly what left the device.
It has its own age X25519 identity, kept in its own folder (never the device's keys folder);
it publishes the recipient, stores what it receives still encrypted, and lists it decrypted.

HTTP interface (loopback by default): the one :mod:`storage.wire` draws, plus
``GET /received`` (200 application/json, [item, ...] as :meth:`CloudStore.describe` gives).

Store layout (``folder``, mode 0700; ``keepmum cloud serve --data DIR``)::

    identity.txt      the receiver's age identity (0600), in the clear: it belongs to the
                      receiving party, not to the device, and must never sit in a device home
    received/         0700
    received/N.age    the ciphertext exactly as it arrived (0600)
    received/N.json   its headers, size, sha256 and arrival time (0600)

Like a member's identity, ``identity.txt`` is refused (PermissionsError) when it is not a
regular file, is accessible to group or others, or belongs to another user, and so is a folder
open to group or others. New requests (an erasure request, say) are new paths beside these.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import threading
import time
import wave
from collections.abc import Callable, Mapping, Sequence
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
    "ReceivedItem",
    "wav_duration_s",
]

_META_HEADERS = {
    HEADER_GRANT: "grant",
    HEADER_RECORD: "record",
    HEADER_MEMBER: "member",
    HEADER_PURPOSE: "purpose",
}


def wav_duration_s(wav: bytes, where: str) -> float:
    """Duration of an in-memory WAV (seconds); IntegrityError naming ``where`` if unparsable."""
    try:
        with wave.open(io.BytesIO(wav), "rb") as reader:
            return reader.getnframes() / reader.getframerate()
    except (wave.Error, EOFError, ZeroDivisionError) as exc:
        raise IntegrityError(f"{where}: not a WAV file ({exc})") from exc


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


class CloudStore:
    """The receiver's identity and its folder of received ciphertexts."""

    def __init__(self, folder: Path, *, clock: Callable[[], float] = time.time) -> None:
        """Open (creating if needed) a receiver store in ``folder``."""
        self.folder = folder
        self._clock = clock
        self._lock = threading.Lock()
        self._received = folder / "received"
        for path in (folder, self._received):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            check_private(path, "receiver folder", folder=True)
        identity_file = folder / "identity.txt"
        if not identity_file.exists():
            identity = pyrage.x25519.Identity.generate()
            text = f"# keepmum cloud receiver\n# public key: {identity.to_public()}\n{identity}\n"
            write_file(identity_file, text.encode("ascii"))  # 0600 from the first byte
            del identity, text
        check_private(identity_file, "receiver identity", folder=False)
        self.identity = self._read_identity(identity_file)
        self.recipient = str(self.identity.to_public())

    @staticmethod
    def _read_identity(path: Path) -> pyrage.x25519.Identity:
        lines = [ln for ln in path.read_text().splitlines() if ln.startswith("AGE-SECRET-KEY-")]
        if len(lines) != 1:
            raise VaultError(f"{path}: expected one AGE-SECRET-KEY line, got {len(lines)}")
        try:
            return pyrage.x25519.Identity.from_str(lines[0])
        except pyrage.IdentityError as exc:
            raise VaultError(f"{path}: not an age identity ({exc})") from exc

    def receive(self, ciphertext: bytes, headers: Mapping[str, str]) -> ReceivedItem:
        """Check ``ciphertext`` opens with this receiver's identity, then store it as it came.

        Raises UploadError (the sender gets 400) for anything that is not age ciphertext to
        this receiver, so a misdirected upload is refused rather than kept unreadable.
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
        with self._lock:
            if upload_id:
                for seen in self.items():
                    if seen.upload_id == upload_id:  # a resend: keep the one copy we have
                        return dataclasses.replace(seen, duplicate=True)
            number = 1 + max((int(p.stem) for p in self._received.glob("*.json")), default=0)
            item = ReceivedItem(
                number=number,
                bytes=len(ciphertext),
                sha256=hashlib.sha256(ciphertext).hexdigest(),
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

        The ciphertext is overwritten before it is unlinked; the item's metadata goes with it.
        Unknown ids are not an error, so a retried request is confirmed all the same.
        """
        wanted_uploads, wanted_records = set(upload_ids) - {""}, set(records) - {""}
        erased = []
        with self._lock:
            for item in self.items():
                if item.upload_id in wanted_uploads or item.record in wanted_records:
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


class _Handler(BaseHTTPRequestHandler):
    server: CloudServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the command prints what arrived through its own callback."""

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._reply(status, json.dumps(obj).encode() + b"\n", "application/json")

    def _describe(self, item: ReceivedItem) -> dict[str, Any]:
        try:
            return self.server.store.describe(item)
        except IntegrityError as exc:
            return {**asdict(item), "error": str(exc)}

    def do_GET(self) -> None:
        store = self.server.store
        if self.path == RECIPIENT_PATH:
            self._reply(200, store.recipient.encode() + b"\n", "text/plain; charset=utf-8")
        elif self.path == "/received":
            self._json(200, [self._describe(it) for it in store.items()])
        else:
            self._json(404, {"error": f"no such path {self.path!r}"})

    def _erase(self) -> None:
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit() or int(length_text) > MAX_ERASE_BYTES:
            self.close_connection = True
            self._json(411, {"error": f"Content-Length up to {MAX_ERASE_BYTES} required"})
            return
        try:
            request = json.loads(self.rfile.read(int(length_text)))
            request_id = str(request["request"])
            uploads = [str(u) for u in request.get("uploads", [])]
            records = [str(r) for r in request.get("records", [])]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self._json(400, {"error": f"erase: expected a JSON erasure request ({exc})"})
            return
        erased = self.server.store.erase(uploads, records)
        self._json(200, {"request": request_id, "confirmed": True, "erased": len(erased)})

    def do_POST(self) -> None:
        if self.path == ERASE_PATH:
            self._erase()
            return
        if self.path != UPLOAD_PATH:
            self._json(404, {"error": f"no such path {self.path!r}"})
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self.close_connection = True
            self._json(411, {"error": "Content-Length required"})
            return
        length = int(length_text)
        if length > MAX_UPLOAD_BYTES:
            self.close_connection = True
            self._json(413, {"error": f"body of {length} bytes exceeds {MAX_UPLOAD_BYTES}"})
            return
        body = self.rfile.read(length)
        try:
            item = self.server.store.receive(body, dict(self.headers.items()))
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
    """The receiver's HTTP server; ``port=0`` picks a free port (see :attr:`url`)."""

    daemon_threads = True

    def __init__(
        self,
        store: CloudStore,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_receive: Callable[[ReceivedItem], None] | None = None,
    ) -> None:
        """Bind to ``host:port`` (loopback unless told otherwise); serve with serve_forever()."""
        self.store = store
        self.on_receive = on_receive
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        """The base URL to grant consent to (``http://host:port``)."""
        host, port = self.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else host
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{port}"
