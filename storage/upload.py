"""Consent-gated upload: send the queue, only what a live grant covers, only to its endpoint.

The queue holds ciphertexts already encrypted to each endpoint's age recipient (see
:mod:`storage.consent`), so uploading needs no key at all. For each queued item, in order, the
:class:`Uploader` opens a write transaction, re-reads the grant from the ledger and checks that it
is live now and covers the record, sends the item with one HTTP POST to ``{endpoint}/upload``,
then logs the bytes in ``uploads`` and the audit chain and removes the item from the queue, and
commits. Holding the write lock across the send is deliberate: a revoke (which needs the same
lock) lands either before the check, and nothing of that grant is sent, or after the record was
sent and counted; it takes effect before the next byte.

The network is a constructor argument (``transport=``), as in httpx: the default,
:class:`HttpClientTransport`, makes one direct http.client connection to the URL's own host
(no proxies from the environment, no redirects followed), so bytes go to the grant's endpoint
and nowhere else. Unit tests pass a fake transport; integration tests use the real receiver.
"""

from __future__ import annotations

import hashlib
import http.client
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from device.errors import ConsentError, UploadError
from storage.cloud import (
    HEADER_GRANT,
    HEADER_MEMBER,
    HEADER_PURPOSE,
    HEADER_RECORD,
    encode_header,
)
from storage.consent import (
    Grant,
    QueuedUpload,
    get_grant,
    queued,
    queued_ids,
    validate_endpoint,
)

__all__ = [
    "HttpClientTransport",
    "HttpRequest",
    "HttpResponse",
    "PlannedUpload",
    "Transport",
    "Uploader",
    "fetch_recipient",
]

TIMEOUT_S = 5.0
"""Per-request timeout (seconds). The uploader holds the vault's write lock while it sends, so
this stays below the vault's 10 s SQLite busy timeout: a record being stored meanwhile waits,
and never fails, however slow the endpoint is."""


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request, as a transport sends it."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class HttpResponse:
    """What came back: status and body."""

    status: int
    body: bytes


class Transport(Protocol):
    """Sends one request and returns the response; raises UploadError if it cannot connect."""

    def __call__(self, request: HttpRequest) -> HttpResponse: ...


class HttpClientTransport:
    """The real transport: one direct connection per request with stdlib http.client.

    Direct on purpose: urllib would honour ``http_proxy`` from the environment and follow
    redirects, either of which could send a consented record somewhere it was not granted to.
    """

    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        """``timeout_s``: connect and read timeout per request (seconds)."""
        self.timeout_s = timeout_s

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Send ``request``; UploadError naming the URL if the connection fails."""
        parts = urlsplit(request.url)
        if parts.hostname is None or parts.scheme not in ("http", "https"):
            raise UploadError(f"{request.url}: expected an http:// or https:// URL")
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=self.timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout_s)
        path = parts.path or "/"
        try:
            conn.request(request.method, path, body=request.body or None,
                         headers=dict(request.headers))
            resp = conn.getresponse()
            return HttpResponse(resp.status, resp.read())
        except (OSError, http.client.HTTPException) as exc:
            raise UploadError(f"{request.url}: cannot reach the endpoint ({exc})") from exc
        finally:
            conn.close()


def fetch_recipient(endpoint: str, transport: Transport | None = None) -> str:
    """The age recipient an endpoint publishes at ``GET {endpoint}/recipient``."""
    endpoint = validate_endpoint(endpoint)
    send = transport if transport is not None else HttpClientTransport()
    resp = send(HttpRequest("GET", endpoint + "/recipient"))
    if resp.status != 200:
        raise UploadError(f"{endpoint}/recipient: expected status 200, got {resp.status}")
    text = resp.body.decode("utf-8", "replace").strip()
    if not text.startswith("age1") or len(text.split()) != 1:
        raise UploadError(f"{endpoint}/recipient: expected an age1... recipient, got {text[:80]!r}")
    return text


@dataclass(frozen=True)
class PlannedUpload:
    """One record that would leave (``--dry-run``) or left: the contract's JSON fields."""

    record: str
    grant: str
    endpoint: str
    bytes: int
    """Bytes of the request body (the age ciphertext) sent to the endpoint."""
    member: str
    purpose: str

    def as_json(self) -> dict[str, Any]:
        """``record``, ``grant``, ``endpoint``, ``bytes`` first, as the CLI contract says."""
        return {
            "record": self.record,
            "grant": self.grant,
            "endpoint": self.endpoint,
            "bytes": self.bytes,
            "member": self.member,
            "purpose": self.purpose,
        }


class _VaultLike(Protocol):
    def transaction(self) -> Any: ...
    def audit(self, conn: Any, event: str, *, member: str | None = None,
              record: str | None = None, **details: Any) -> object: ...
    @property
    def connection(self) -> Any: ...


def _record_member(conn: Any, record_id: str) -> str | None:
    row = conn.execute("SELECT member FROM records WHERE id = ?", (record_id,)).fetchone()
    return None if row is None else str(row[0])


class Uploader:
    """Sends the upload queue, each item only if its grant is live and covers it."""

    def __init__(
        self,
        vault: _VaultLike,
        *,
        transport: Transport | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``transport``: how bytes leave (default: :class:`HttpClientTransport`);
        ``clock``: Unix seconds (default: the vault's clock, else time.time)."""
        self._vault = vault
        self._transport = transport if transport is not None else HttpClientTransport()
        vault_clock = getattr(vault, "clock", None)
        self._clock = clock if clock is not None else (
            vault_clock if callable(vault_clock) else time.time
        )

    def _check(self, conn: Any, item: QueuedUpload, now: float) -> Grant | None:
        """The item's grant if it may be sent now, else None (revoked, expired, not covered)."""
        try:
            grant = get_grant(conn, item.grant_id)
        except ConsentError:
            return None
        if not grant.live_at(now):
            return None
        member = _record_member(conn, item.record_id)
        if member is None or member != grant.member:
            return None
        if grant.scope == "records" and item.record_id not in grant.records:
            return None
        return grant

    def plan(self) -> list[PlannedUpload]:
        """What :meth:`upload` would send now, and nothing is sent (``--dry-run``)."""
        conn = self._vault.connection
        now = self._clock()
        planned = []
        for item in queued(conn):
            grant = self._check(conn, item, now)
            if grant is not None:
                planned.append(PlannedUpload(item.record_id, grant.grant_id, grant.endpoint,
                                             len(item.ciphertext), grant.member, grant.purpose))
        return planned

    def upload(
        self, on_sent: Callable[[PlannedUpload], None] | None = None
    ) -> list[PlannedUpload]:
        """Send every queued item a live grant covers, one transaction per item.

        ``on_sent`` is called after each item is committed (the CLI prints it then). An endpoint
        error raises UploadError with that item still queued; items sent before it stay counted.
        """
        sent = []
        for queue_id in queued_ids(self._vault.connection):
            done = self._send_one(queue_id)
            if done is not None:
                sent.append(done)
                if on_sent is not None:
                    on_sent(done)
        return sent

    def _send_one(self, queue_id: int) -> PlannedUpload | None:
        with self._vault.transaction() as conn:
            found = queued(conn, queue_id=queue_id)
            if not found:  # revoked or erased since the queue was read
                return None
            item = found[0]
            now = self._clock()
            grant = self._check(conn, item, now)
            if grant is None:
                return None
            if hashlib.sha256(item.ciphertext).hexdigest() != item.sha256:
                raise UploadError(
                    f"queued copy of record {item.record_id} for grant {item.grant_id}: "
                    "sha256 differs from the one recorded when queued; not sent"
                )
            url = grant.endpoint + "/upload"
            headers = {
                "Content-Type": "application/octet-stream",
                HEADER_GRANT: encode_header(grant.grant_id),
                HEADER_RECORD: encode_header(item.record_id),
                HEADER_MEMBER: encode_header(grant.member),
                HEADER_PURPOSE: encode_header(grant.purpose),
            }
            resp = self._transport(HttpRequest("POST", url, headers, item.ciphertext))
            if resp.status not in (200, 201):
                detail = resp.body.decode("utf-8", "replace").strip()[:200]
                raise UploadError(f"{url}: expected status 200/201, got {resp.status} {detail}")
            nbytes = len(item.ciphertext)
            conn.execute(
                "INSERT INTO uploads (grant_id, record_id, endpoint, bytes, sent_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (grant.grant_id, item.record_id, grant.endpoint, nbytes, now),
            )
            conn.execute("DELETE FROM upload_queue WHERE id = ?", (item.queue_id,))
            self._vault.audit(conn, "uploaded", member=grant.member, record=item.record_id,
                              grant=grant.grant_id, endpoint=grant.endpoint, bytes=nbytes)
            return PlannedUpload(item.record_id, grant.grant_id, grant.endpoint, nbytes,
                                 grant.member, grant.purpose)
