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
"""

from __future__ import annotations

from urllib.parse import quote, unquote

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
    "decode_header",
    "encode_header",
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
