"""The wire format of an upload: what the device sends an endpoint, and what it expects back.

The sending side owns it (:mod:`storage.upload`, :mod:`storage.erasure`); a receiver, such as
the simulated cloud in ``sim/cloud.py``, imports it from here.

HTTP interface::

    GET  /recipient   200 text/plain   the receiver's age recipient ("age1...\\n")
    POST /upload      201 application/json {"received": N, "bytes": B, "sha256": HEX}
                      body: age ciphertext (to the recipient above); headers
                      X-Keepmum-Grant, X-Keepmum-Record, X-Keepmum-Member, X-Keepmum-Purpose
                      (percent-encoded UTF-8) and X-Keepmum-Upload-Id (32 hex digits, the
                      same for every resend of one queued copy). A resend of an upload id
                      already stored answers 200 with "duplicate": true and stores nothing.
                      400 if the body is not age ciphertext for this receiver, 411 without
                      Content-Length, 413 above MAX_UPLOAD_BYTES.
    POST /erase       200 application/json {"request": ID, "confirmed": true, "erased": N}
                      body: JSON {"request": ID, "member": NAME, "uploads": [upload id, ...],
                      "records": [record id, ...]}: delete every received item with one of
                      those upload ids or record ids (GDPR art. 17(2)); idempotent.

Every request but ``GET /recipient`` carries ``Authorization: Bearer <token>``, the receiver's
token the device learned when the grant was made (:mod:`storage.endpoint_access`); a receiver
answers 401 without it, 421 to a ``Host`` that is not its own, 410 to an upload it erased
before, 413/507 past its quota or store limit, 503 when busy (docs/security/receiver.md).

Which endpoints may be used at all (:func:`check_endpoint_url`): ``https://`` anywhere, plain
``http://`` only on this machine (loopback), never with credentials in the URL and never with
anything that looks like an age secret key in it.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, quote, unquote

from keepmum.errors import ConsentError
from storage.redact import looks_secret

__all__ = [
    "ERASE_PATH",
    "HEADER_GRANT",
    "HEADER_MEMBER",
    "HEADER_PURPOSE",
    "HEADER_RECORD",
    "HEADER_UPLOAD_ID",
    "MAX_ERASE_BYTES",
    "MAX_UPLOAD_BYTES",
    "RECIPIENT_PATH",
    "UPLOAD_PATH",
    "check_endpoint_url",
    "decode_header",
    "encode_header",
    "is_loopback_host",
]

RECIPIENT_PATH = "/recipient"
UPLOAD_PATH = "/upload"
ERASE_PATH = "/erase"
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
"""The largest upload body a receiver must accept (bytes)."""
MAX_ERASE_BYTES = 1024 * 1024
"""The largest erasure request body a receiver must accept (bytes)."""
HEADER_GRANT = "X-Keepmum-Grant"
HEADER_RECORD = "X-Keepmum-Record"
HEADER_MEMBER = "X-Keepmum-Member"
HEADER_PURPOSE = "X-Keepmum-Purpose"
HEADER_UPLOAD_ID = "X-Keepmum-Upload-Id"


def encode_header(value: str) -> str:
    """A header value safe for HTTP/1.1 (latin-1 only): percent-encoded UTF-8."""
    return quote(value, safe="")


def decode_header(value: str) -> str:
    """The text an :func:`encode_header` value stands for."""
    return unquote(value)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a URL's host name, without brackets) is this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint_url(endpoint: str, parts: SplitResult) -> None:
    """ConsentError, never echoing a secret, unless ``endpoint`` (split as ``parts``) may be
    sent to: no age secret key anywhere in it, no ``user:password@``, and ``https://`` unless
    the host is loopback. Call it before anything is sent, stored or printed."""
    if looks_secret(endpoint):
        raise ConsentError(
            "endpoint: this contains an age secret key (AGE-SECRET-KEY-1...); it was not sent, "
            "stored or logged. Give the receiver's base URL, e.g. https://host:8765"
        )
    if "@" in parts.netloc:
        raise ConsentError(
            "endpoint: credentials in the URL (user:password@host) are refused and were not "
            "stored; give the receiver's token with --endpoint-token-file instead"
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname or ""):
        raise ConsentError(
            f"endpoint {endpoint!r}: plain http:// is only for this machine (127.0.0.1, ::1, "
            "localhost); use https:// (certificate checked against the system CA store, or "
            "the one given with --ca-file)"
        )
