"""Consent-gated upload: send the queue, only what a live grant covers, only to its endpoint.

The queue holds ciphertexts already encrypted to each endpoint's age recipient (see
:mod:`storage.ledger`), so uploading needs no key at all. The :class:`Uploader` never holds the
vault's write lock across network I/O. For each queued item:

1. **start** (one short transaction): re-read the grant, check it is live and covers the record
   and that the audit chain binds it as the ledger shows it (an inserted or altered grant is
   refused, audited ``grant_refused``, and nothing is sent to it), and append an
   ``upload_attempts`` row with no outcome ("in flight") and the attempt's deadline, and an
   ``upload_started`` audit entry; commit.
2. **send** (no lock held): one HTTP POST to ``{endpoint}/upload`` with a total deadline; the
   ``X-Keepmum-Upload-Id`` header is the same for every attempt at the same queued copy, so the
   receiver stores a resend once. Before each chunk of the body the grant is read again: a
   revoke committed meanwhile stops the next chunk.
3. **finish** (one short transaction): re-check the grant and record the outcome with the bytes
   that left: ``sent`` (logged in ``uploads``, audited ``uploaded``, dequeued), or ``refused`` /
   ``failed`` (audited ``upload_failed``; the copy stays queued for a later run).

A revoke (``storage.consent.revoke``) needs the lock only for its own short transaction, so it
commits at any moment; at most the one record already in flight reaches the endpoint. A crash
between 1 and 3 leaves an attempt without outcome: after its deadline (plus a grace) the next
upload marks it ``unknown``, audits ``upload_outcome_unknown``, reports it, and resends the same
copy under the same upload id if the grant is still live. One endpoint that fails stops only
its own items in that run; the others are still sent, and the failure is raised at the end.

The network is a constructor argument (``transport=``), as in httpx: the default,
:class:`HttpClientTransport`, makes one direct http.client connection to the URL's own host
(no proxies from the environment, no redirects followed, plain http only to loopback, https
certificates always checked), so bytes go to the grant's endpoint and nowhere else. Each
request to an endpoint carries the token (and uses the CA) stored for it when the grant was
made (:mod:`storage.endpoint_access`). Unit tests pass a fake transport; integration tests
use the real receiver.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from keepmum.errors import ConsentError, UploadError
from storage.endpoint_access import EndpointAccess, load_access
from storage.erasure import ErasureRequest, pending_erasures
from storage.ledger import (
    Grant,
    GrantRefused,
    QueuedUpload,
    get_grant,
    queued,
    queued_ids,
    refuse_unbound,
    validate_endpoint,
)
from storage.vault import Vault
from storage.wire import (
    ERASE_PATH,
    HEADER_GRANT,
    HEADER_MEMBER,
    HEADER_PURPOSE,
    HEADER_RECORD,
    HEADER_UPLOAD_ID,
    RECIPIENT_PATH,
    UPLOAD_PATH,
    encode_header,
    is_loopback_host,
)

__all__ = [
    "DEADLINE_S",
    "IN_FLIGHT_GRACE_S",
    "ErasureSender",
    "HttpClientTransport",
    "HttpRequest",
    "HttpResponse",
    "PlannedUpload",
    "SendError",
    "Transport",
    "UploadNotice",
    "Uploader",
    "fetch_recipient",
    "open_attempts",
    "upload_id_for",
]


DEADLINE_S = 20.0
"""Total time one request may take, connect to last byte of the answer (seconds). A total
deadline, not a per-read timeout: an endpoint that dribbles its answer a byte at a time is cut
off at the deadline all the same. No vault lock is held meanwhile (see :class:`Uploader`)."""

CHUNK_BYTES = 16 * 1024
"""The body leaves in chunks of this size; before each one the request's ``proceed`` check runs,
so a revoke committed while a large body is being written stops the next chunk."""

MAX_ANSWER_BYTES = 1024 * 1024
"""Most bytes of an endpoint's answer that are read (the answer is a short JSON object)."""


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request, as a transport sends it."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    deadline_s: float | None = None
    """Total time allowed for the exchange (seconds); None: the transport's own default."""
    proceed: Callable[[], bool] | None = None
    """Asked before each chunk of the body; False stops sending (a revoke landed meanwhile)."""
    ca_pem: str = ""
    """PEM CA certificates an https endpoint's certificate is checked by ("": the system's)."""


@dataclass(frozen=True)
class HttpResponse:
    """What came back: status and body, and how many body bytes had left."""

    status: int
    body: bytes
    bytes_sent: int = 0
    """Bytes of the request body written to the connection (they left the device)."""
    retry_after: str = ""
    """The answer's ``Retry-After`` header ("" if none): a busy endpoint's 503 says when."""


class SendError(UploadError):
    """The exchange failed (cannot connect, reset, deadline, stopped); knows what had left."""

    def __init__(self, message: str, bytes_sent: int = 0) -> None:
        super().__init__(message)
        self.bytes_sent = bytes_sent
        """Bytes of the request body already written to the connection when it failed."""


class Transport(Protocol):
    """Sends one request and returns the response; raises SendError if the exchange fails."""

    def __call__(self, request: HttpRequest) -> HttpResponse: ...


def _shutdown(sock: socket.socket | None) -> None:
    # The deadline's watchdog: wakes a recv() that an endpoint keeps alive byte by byte.
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class HttpClientTransport:
    """The real transport: one direct connection per request with stdlib http.client.

    Direct on purpose: urllib would honour ``http_proxy`` from the environment and follow
    redirects, either of which could send a consented record somewhere it was not granted to.
    Each exchange has a total deadline, enforced by a watchdog that shuts the socket down.
    """

    def __init__(self, timeout_s: float = DEADLINE_S) -> None:
        """``timeout_s``: the total deadline of a request without its own (seconds)."""
        self.timeout_s = timeout_s

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Send ``request`` within its deadline; SendError naming the URL if it fails."""
        parts = urlsplit(request.url)
        if parts.hostname is None or parts.scheme not in ("http", "https"):
            raise UploadError(f"{request.url}: expected an http:// or https:// URL")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise UploadError(f"{request.url}: plain http:// is only for loopback; use https://")
        total_s = request.deadline_s if request.deadline_s is not None else self.timeout_s
        deadline = time.monotonic() + total_s
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.hostname,
                parts.port,
                timeout=total_s,
                context=ssl.create_default_context(cadata=request.ca_pem or None),
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=total_s)
        path = parts.path or "/"
        sent = 0
        watchdog: threading.Timer | None = None
        try:
            conn.connect()
            watchdog = threading.Timer(
                max(0.0, deadline - time.monotonic()), _shutdown, [conn.sock]
            )
            watchdog.daemon = True
            watchdog.start()
            conn.putrequest(request.method, path, skip_accept_encoding=True)
            for name, value in request.headers.items():
                conn.putheader(name, value)
            if request.body or request.method == "POST":
                conn.putheader("Content-Length", str(len(request.body)))
            conn.endheaders()
            view = memoryview(request.body)
            for start in range(0, len(view), CHUNK_BYTES):
                if request.proceed is not None and not request.proceed():
                    raise SendError(
                        f"{request.url}: stopped after {sent} bytes: consent ended during the send",
                        sent,
                    )
                conn.send(view[start : start + CHUNK_BYTES])
                sent += len(view[start : start + CHUNK_BYTES])
            resp = conn.getresponse()
            body = resp.read(MAX_ANSWER_BYTES)
            if time.monotonic() > deadline:
                raise TimeoutError("deadline passed")
            return HttpResponse(resp.status, body, sent, resp.getheader("Retry-After", ""))
        except (OSError, http.client.HTTPException) as exc:
            if time.monotonic() >= deadline:
                raise SendError(
                    f"{request.url}: no complete answer within the {total_s:g} s "
                    f"deadline ({sent} bytes had left)",
                    sent,
                ) from exc
            raise SendError(
                f"{request.url}: cannot reach the endpoint ({exc}; {sent} bytes had left)", sent
            ) from exc
        finally:
            if watchdog is not None:
                watchdog.cancel()
            conn.close()


def fetch_recipient(
    endpoint: str, transport: Transport | None = None, access: EndpointAccess | None = None
) -> str:
    """The age recipient an endpoint publishes at ``GET {endpoint}/recipient``."""
    endpoint = validate_endpoint(endpoint)
    send = transport if transport is not None else HttpClientTransport()
    reach = access if access is not None else EndpointAccess()
    resp = send(HttpRequest("GET", endpoint + RECIPIENT_PATH, reach.headers(), ca_pem=reach.ca_pem))
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


IN_FLIGHT_GRACE_S = 5.0
"""An attempt still without outcome this long after its deadline was abandoned (its process
died): the transport gives up at the deadline, so no live sender can still be waiting."""


@dataclass(frozen=True)
class UploadNotice:
    """Something the user must hear about an upload run besides what was sent."""

    kind: str
    """``outcome_unknown`` (a crashed attempt, resolved now), ``failed``, ``skipped``
    (its endpoint failed earlier in this run), ``in_flight`` (another process is sending it) or
    ``grant_refused`` (the audit chain does not bind its grant: nothing sent)."""
    record: str
    grant: str
    endpoint: str
    bytes_sent: int
    detail: str

    @classmethod
    def refused(cls, item: QueuedUpload, refusal: GrantRefused) -> UploadNotice:
        """The notice for an item whose grant was refused at use."""
        return cls(
            "grant_refused", item.record_id, refusal.grant, refusal.endpoint, 0, refusal.problem
        )

    def as_json(self) -> dict[str, Any]:
        """For ``--json`` output: ``event`` is ``upload_`` + kind; a refused grant is the same
        ``grant_refused`` event as when storing (``stage`` ``upload``, ``problem``)."""
        if self.kind == "grant_refused":
            return {
                "event": "grant_refused",
                "record": self.record,
                "grant": self.grant,
                "endpoint": self.endpoint,
                "stage": "upload",
                "problem": self.detail,
            }
        return {
            "event": f"upload_{self.kind}",
            "record": self.record,
            "grant": self.grant,
            "endpoint": self.endpoint,
            "bytes_sent": self.bytes_sent,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class _Attempt:
    attempt_id: int
    upload_id: str
    item: QueuedUpload
    grant: Grant


def upload_id_for(item: QueuedUpload) -> str:
    """The upload id of a queued copy: the same for every attempt at it, so that the receiver
    can store a resend once (32 hex digits of SHA-256 over grant, record and ciphertext hash)."""
    text = f"{item.grant_id}\n{item.record_id}\n{item.sha256}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def open_attempts(conn: Any) -> list[dict[str, Any]]:
    """Attempts without an outcome yet: in flight now, or abandoned by a crash."""
    rows = conn.execute(
        "SELECT id, upload_id, grant_id, record_id, endpoint, bytes, started_at, deadline"
        " FROM upload_attempts WHERE outcome IS NULL ORDER BY id"
    ).fetchall()
    keys = (
        "attempt",
        "upload_id",
        "grant",
        "record",
        "endpoint",
        "bytes",
        "started_at",
        "deadline",
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _refusal_detail(resp: HttpResponse) -> str:
    """Why an endpoint's answer is not a delivery; a busy one (503) says when to send again."""
    said = resp.body.decode("utf-8", "replace").strip()[:200]
    if resp.status == 503:
        wait = resp.retry_after.strip()
        when = f"in {wait} s" if wait.isdigit() else "later"
        return f"busy (got 503; send again {when}; nothing was stored there) {said}"
    return f"expected status 200/201, got {resp.status} {said}"


def _record_member(conn: Any, record_id: str) -> str | None:
    row = conn.execute("SELECT member FROM records WHERE id = ?", (record_id,)).fetchone()
    return None if row is None else str(row[0])


def _access_for(
    vault: Vault, given: Mapping[str, EndpointAccess] | None, endpoint: str
) -> EndpointAccess:
    """The token and CA for ``endpoint``: from ``given``, else read from the vault's home now."""
    known = given if given is not None else load_access(vault.home)
    return known.get(endpoint, EndpointAccess())


class _Sender:
    """What the uploader and the erasure sender share: a vault, and how requests leave."""

    default_deadline_s = DEADLINE_S

    def __init__(
        self,
        vault: Vault,
        *,
        transport: Transport | None = None,
        clock: Callable[[], float] | None = None,
        deadline_s: float | None = None,
        access: Mapping[str, EndpointAccess] | None = None,
    ) -> None:
        """``transport``: how bytes leave (default: :class:`HttpClientTransport`);
        ``clock``: Unix seconds (default: the vault's clock, else time.time);
        ``deadline_s``: total time allowed for one exchange (seconds; default
        :attr:`default_deadline_s`); ``access``: each endpoint's token and CA (default: the
        home's endpoint-access.json)."""
        self._vault = vault
        self._transport = transport if transport is not None else HttpClientTransport()
        self._clock = clock if clock is not None else vault.clock
        self.deadline_s = self.default_deadline_s if deadline_s is None else deadline_s
        self._access = access


class Uploader(_Sender):
    """Sends the upload queue, each item only if its grant is live and covers it."""

    _refusals: dict[str, GrantRefused | None]
    """Per run (made anew by :meth:`plan` and :meth:`upload`): each grant's refusal, or None."""

    def _now(self) -> float:
        # Never earlier than the latest time the vault has seen: a clock set back must not
        # make a revoked or expired grant live again (storage/clockmark.py).
        return self._vault.now(self._clock())

    def _refusal(self, conn: Any, grant: Grant) -> GrantRefused | None:
        """The grant's refusal if the audit chain does not bind it (checked once per grant
        and run, audited when the vault is writable and ``conn`` is in a transaction)."""
        if grant.grant_id not in self._refusals:
            audit = self._vault.audit if conn.in_transaction else None
            self._refusals[grant.grant_id] = refuse_unbound(conn, grant, "upload", audit)
        return self._refusals[grant.grant_id]

    def _check(self, conn: Any, item: QueuedUpload, now: float) -> Grant | None:
        """The item's grant if it may be sent now, else None: revoked, expired, or its record
        gone or not covered by the grant (:meth:`storage.ledger.Grant.covers`: an all-future
        grant never sends a record made before it was granted)."""
        try:
            grant = get_grant(conn, item.grant_id)
        except ConsentError:
            return None
        if not grant.live_at(now):
            return None
        row = conn.execute(
            "SELECT member, created FROM records WHERE id = ?", (item.record_id,)
        ).fetchone()
        if row is None or not grant.covers(item.record_id, str(row[0]), float(row[1])):
            return None
        return grant

    def plan(self, on_notice: Callable[[UploadNotice], None] | None = None) -> list[PlannedUpload]:
        """What :meth:`upload` would send now, and nothing is sent (``--dry-run``); a grant the
        audit chain does not bind is left out and passed to ``on_notice`` (and audited, when the
        vault is writable)."""
        self._refusals = {}
        if self._vault.read_only:
            return self._plan(self._vault.connection, on_notice)
        with self._vault.transaction() as conn:
            return self._plan(conn, on_notice)

    def _plan(
        self, conn: Any, on_notice: Callable[[UploadNotice], None] | None
    ) -> list[PlannedUpload]:
        now = self._now()
        planned = []
        for item in queued(conn):
            grant = self._check(conn, item, now)
            refused = None if grant is None else self._refusal(conn, grant)
            if refused is not None and on_notice is not None:
                on_notice(UploadNotice.refused(item, refused))
            elif grant is not None:
                planned.append(
                    PlannedUpload(
                        item.record_id,
                        grant.grant_id,
                        grant.endpoint,
                        len(item.ciphertext),
                        grant.member,
                        grant.purpose,
                    )
                )
        return planned

    def upload(
        self,
        on_sent: Callable[[PlannedUpload], None] | None = None,
        on_notice: Callable[[UploadNotice], None] | None = None,
    ) -> list[PlannedUpload]:
        """Send every queued item a live grant covers; never holding the lock while sending.

        ``on_sent`` is called after each item's outcome is committed (the CLI prints it then),
        ``on_notice`` for abandoned attempts resolved now, failures and skipped items. When an
        endpoint fails, its remaining items wait for a later run while the other endpoints'
        items are still sent; then UploadError names every failure.
        """

        def notify(notice: UploadNotice) -> None:
            if on_notice is not None:
                on_notice(notice)

        self._refusals = {}
        for notice in self._resolve_abandoned():
            notify(notice)
        sent: list[PlannedUpload] = []
        failed: dict[str, str] = {}
        for queue_id in queued_ids(self._vault.connection):
            attempt = self._start(queue_id, failed, notify)
            if attempt is None:
                continue
            done = self._send(attempt)
            if isinstance(done, PlannedUpload):
                sent.append(done)
                if on_sent is not None:
                    on_sent(done)
            else:
                failed[attempt.grant.endpoint] = done.detail
                notify(done)
        if failed:
            raise UploadError(
                "; ".join(f"{ep}: {why}" for ep, why in failed.items())
                + f" (sent {len(sent)} record(s) to other endpoints; the failed ones stay queued"
                " for the next `keepmum upload`)"
            )
        return sent

    def _resolve_abandoned(self) -> list[UploadNotice]:
        """Mark attempts abandoned by a crash ``unknown``: they may have reached the endpoint.

        Their copies are still queued and are resent (same upload id: the receiver keeps one)
        below, if the grant is still live; counted as possibly sent either way.
        """
        now = self._now()
        notices = []
        with self._vault.transaction() as conn:
            for a in open_attempts(conn):
                if a["deadline"] + IN_FLIGHT_GRACE_S > now:
                    continue  # another process may be sending it right now
                detail = "in flight when its process ended; the endpoint may hold it"
                conn.execute(
                    "UPDATE upload_attempts SET outcome = 'unknown', finished_at = ?,"
                    " bytes_sent = bytes, detail = ? WHERE id = ?",
                    (now, detail, a["attempt"]),
                )
                member = _record_member(conn, a["record"])
                self._vault.audit(
                    conn,
                    "upload_outcome_unknown",
                    member=member,
                    record=a["record"],
                    grant=a["grant"],
                    endpoint=a["endpoint"],
                    upload_id=a["upload_id"],
                    bytes=a["bytes"],
                )
                notices.append(
                    UploadNotice(
                        "outcome_unknown",
                        a["record"],
                        a["grant"],
                        a["endpoint"],
                        int(a["bytes"]),
                        detail,
                    )
                )
        return notices

    def _start(
        self, queue_id: int, failed: Mapping[str, str], notify: Callable[[UploadNotice], None]
    ) -> _Attempt | None:
        """Step 1: check and mark the item in flight, in one short transaction."""
        with self._vault.transaction() as conn:
            found = queued(conn, queue_id=queue_id)
            if not found:  # revoked or erased since the queue was read
                return None
            item = found[0]
            now = self._now()
            grant = self._check(conn, item, now)
            if grant is None:
                return None
            refused = self._refusal(conn, grant)
            if refused is not None:
                notify(UploadNotice.refused(item, refused))
                return None
            if grant.endpoint in failed:
                notify(
                    UploadNotice(
                        "skipped",
                        item.record_id,
                        grant.grant_id,
                        grant.endpoint,
                        0,
                        f"not tried: {grant.endpoint} failed earlier in this run",
                    )
                )
                return None
            busy = conn.execute(
                "SELECT 1 FROM upload_attempts WHERE queue_id = ? AND outcome IS NULL",
                (queue_id,),
            ).fetchone()
            if busy is not None:
                notify(
                    UploadNotice(
                        "in_flight",
                        item.record_id,
                        grant.grant_id,
                        grant.endpoint,
                        0,
                        "being sent by another keepmum process",
                    )
                )
                return None
            if hashlib.sha256(item.ciphertext).hexdigest() != item.sha256:
                raise UploadError(
                    f"queued copy of record {item.record_id} for grant {item.grant_id}: "
                    "sha256 differs from the one recorded when queued; not sent"
                )
            upload_id = upload_id_for(item)
            cur = conn.execute(
                "INSERT INTO upload_attempts (upload_id, queue_id, grant_id, record_id, endpoint,"
                " bytes, started_at, deadline) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    upload_id,
                    queue_id,
                    grant.grant_id,
                    item.record_id,
                    grant.endpoint,
                    len(item.ciphertext),
                    now,
                    now + self.deadline_s,
                ),
            )
            self._vault.audit(
                conn,
                "upload_started",
                member=grant.member,
                record=item.record_id,
                grant=grant.grant_id,
                endpoint=grant.endpoint,
                upload_id=upload_id,
                bytes=len(item.ciphertext),
            )
            assert cur.lastrowid is not None  # an INSERT into a rowid table always sets it
            return _Attempt(cur.lastrowid, upload_id, item, grant)

    def _still_allowed(self, item: QueuedUpload) -> bool:
        # Read outside any transaction: sees whatever a revoke in another process committed.
        return self._check(self._vault.connection, item, self._now()) is not None

    def _send(self, attempt: _Attempt) -> PlannedUpload | UploadNotice:
        """Steps 2 and 3: send without any lock, then commit the outcome."""
        item, grant = attempt.item, attempt.grant
        url = grant.endpoint + UPLOAD_PATH
        reach = _access_for(self._vault, self._access, grant.endpoint)
        headers = {
            **reach.headers(),
            "Content-Type": "application/octet-stream",
            HEADER_GRANT: encode_header(grant.grant_id),
            HEADER_RECORD: encode_header(item.record_id),
            HEADER_MEMBER: encode_header(grant.member),
            HEADER_PURPOSE: encode_header(grant.purpose),
            HEADER_UPLOAD_ID: attempt.upload_id,
        }
        request = HttpRequest(
            "POST",
            url,
            headers,
            item.ciphertext,
            self.deadline_s,
            lambda: self._still_allowed(item),
            reach.ca_pem,
        )
        status: int | None = None
        try:
            resp = self._transport(request)
            status, bytes_sent = resp.status, resp.bytes_sent or len(item.ciphertext)
            ok = status in (200, 201)
            detail = "" if ok else _refusal_detail(resp)
        except SendError as exc:
            ok, bytes_sent, detail = False, exc.bytes_sent, str(exc)
        except UploadError as exc:
            ok, bytes_sent, detail = False, 0, str(exc)
        return self._finish(attempt, ok, status, bytes_sent, detail)

    def _finish(
        self, attempt: _Attempt, ok: bool, status: int | None, bytes_sent: int, detail: str
    ) -> PlannedUpload | UploadNotice:
        item, grant = attempt.item, attempt.grant
        with self._vault.transaction() as conn:
            now = self._now()
            # Re-check: a revoke that landed during the send does not undo bytes that left,
            # but the log says so, and nothing more of that grant leaves.
            revoked_meanwhile = self._check(conn, item, now) is None
            outcome = "sent" if ok else ("refused" if status is not None else "failed")
            conn.execute(
                "UPDATE upload_attempts SET outcome = ?, status = ?, bytes_sent = ?,"
                " finished_at = ?, detail = ? WHERE id = ?",
                (outcome, status, bytes_sent, now, detail[:500], attempt.attempt_id),
            )
            if ok:
                conn.execute(
                    "INSERT INTO uploads (grant_id, record_id, endpoint, bytes, sent_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (grant.grant_id, item.record_id, grant.endpoint, bytes_sent, now),
                )
                conn.execute("DELETE FROM upload_queue WHERE id = ?", (item.queue_id,))
                self._vault.audit(
                    conn,
                    "uploaded",
                    member=grant.member,
                    record=item.record_id,
                    grant=grant.grant_id,
                    endpoint=grant.endpoint,
                    bytes=bytes_sent,
                    upload_id=attempt.upload_id,
                    revoked_during_send=revoked_meanwhile,
                )
            else:
                self._vault.audit(
                    conn,
                    "upload_failed",
                    member=grant.member,
                    record=item.record_id,
                    grant=grant.grant_id,
                    endpoint=grant.endpoint,
                    bytes_sent=bytes_sent,
                    status=status,
                    upload_id=attempt.upload_id,
                )
        if ok:
            return PlannedUpload(
                item.record_id,
                grant.grant_id,
                grant.endpoint,
                bytes_sent,
                grant.member,
                grant.purpose,
            )
        return UploadNotice(
            "failed", item.record_id, grant.grant_id, grant.endpoint, bytes_sent, detail
        )


class ErasureSender(_Sender):
    """Sends unconfirmed erasure requests and commits each confirmation (no lock while sending)."""

    default_deadline_s = 10.0

    def send_pending(self) -> list[ErasureRequest]:
        """Try every unconfirmed request once; return them all as they stand afterwards."""
        results = []
        for req in pending_erasures(self._vault.connection):
            body = json.dumps(
                {
                    "request": req.request_id,
                    "member": req.member,
                    "uploads": list(req.uploads),
                    "records": list(req.records),
                }
            )
            error = ""
            try:
                reach = _access_for(self._vault, self._access, req.endpoint)
                resp = self._transport(
                    HttpRequest(
                        "POST",
                        req.endpoint + ERASE_PATH,
                        {**reach.headers(), "Content-Type": "application/json"},
                        body.encode(),
                        self.deadline_s,
                        ca_pem=reach.ca_pem,
                    )
                )
                answer = json.loads(resp.body) if resp.status == 200 else {}
                if not (
                    isinstance(answer, dict)
                    and answer.get("confirmed") is True
                    and answer.get("request") == req.request_id
                ):
                    error = (
                        f"{req.endpoint}/erase: expected status 200 confirming "
                        f"{req.request_id}, got {resp.status}"
                    )
            except (UploadError, ValueError) as exc:
                error = str(exc)
            results.append(self._commit(req, error))
        return results

    def _commit(self, req: ErasureRequest, error: str) -> ErasureRequest:
        now = self._clock()
        with self._vault.transaction() as conn:
            if error:
                conn.execute(
                    "UPDATE erasure_requests SET attempts = attempts + 1,"
                    " last_error = ? WHERE request_id = ?",
                    (error[:500], req.request_id),
                )
            else:
                conn.execute(
                    "UPDATE erasure_requests SET attempts = attempts + 1,"
                    " confirmed_at = ?, last_error = '' WHERE request_id = ?",
                    (now, req.request_id),
                )
                self._vault.audit(
                    conn,
                    "erasure_confirmed",
                    member=req.member,
                    request=req.request_id,
                    endpoint=req.endpoint,
                    records=list(req.records),
                )
        return ErasureRequest(
            req.request_id,
            req.endpoint,
            req.member,
            req.reason,
            req.records,
            req.uploads,
            req.requested_at,
            None if error else now,
            req.attempts + 1,
            error,
        )
