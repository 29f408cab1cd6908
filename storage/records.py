"""A stored record's metadata, its id, and the checks that need no key.

A record is one kept utterance: a row of the ``records`` table whose ``ciphertext`` is an age
file (binary, one X25519 recipient: the member's) of a WAV made by :func:`storage.wav.pcm_to_wav`.

Record ids are 20 lowercase hex digits: 12 for the start time in milliseconds (so ids sort by
time) and 8 random, e.g. ``0193a4c2f1e0`` ``5b9c03d1``.

Without a key, a record can still be checked (:func:`check_record`):

- ``sha256`` is the SHA-256 of the ciphertext, and ``meta_sha256`` the SHA-256 of the canonical
  JSON of every other column (:func:`meta_digest`), so a changed byte anywhere is found
  (``gap_ms`` joins the digest when it is known: records stored before schema 7 have none, and
  keep the digest they were stored with);
- the ciphertext is a well-formed age v1 file with exactly one X25519 stanza (a record is never
  encrypted to anyone but its member);
- its payload length is exactly what age's STREAM (16-byte nonce, 64 KiB chunks, 16-byte tag
  each) makes of a WAV of ``samples`` samples, so the length alone proves it holds that much
  audio and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from device.audio import SAMPLE_RATE
from storage.wav import wav_bytes_len

__all__ = [
    "AGE_MAGIC",
    "META_COLUMNS",
    "RecordMeta",
    "age_payload_len",
    "check_ciphertext_structure",
    "check_record",
    "meta_digest",
    "new_record_id",
]

META_COLUMNS = (
    "id",
    "member",
    "start",
    "start_t",
    "duration_s",
    "samples",
    "sample_rate",
    "model",
    "score",
    "end_reason",
    "source",
    "created",
    "expires",
)
"""The ``records`` columns that :func:`meta_digest` covers (with ``sha256``), in order."""

_ID_RE = re.compile(r"[0-9a-f]{20}")
AGE_MAGIC = b"age-encryption.org/v1\n"
"""How every age v1 file begins (the format's magic line, https://age-encryption.org/v1)."""
_CHUNK = 64 * 1024
_TAG = 16
_NONCE = 16


@dataclass(frozen=True)
class RecordMeta:
    """Everything about a record except its audio; readable without any key."""

    id: str
    member: str
    start: float
    """Wall-clock start of the audio (Unix seconds)."""
    start_t: float
    """Start of the audio in its input (seconds from the input's start)."""
    duration_s: float
    samples: int
    sample_rate: int
    model: str
    """The wake-word model that woke the device."""
    score: float
    end_reason: str
    source: str
    created: float
    """When it was stored (Unix seconds)."""
    expires: float
    """When it will be deleted (Unix seconds)."""
    sha256: str
    """SHA-256 hex of the ciphertext."""
    size: int = 0
    """Length of the ciphertext (bytes)."""
    gap_ms: int | None = None
    """The pause between the wake word and the request, not kept (milliseconds; None for records
    stored before schema version 7, which did not measure it)."""

    def as_json(self) -> dict[str, Any]:
        """The ``vault list --json`` object."""
        return {
            "record": self.id,
            "member": self.member,
            "start": self.start,
            "duration_s": self.duration_s,
            "model": self.model,
            "score": self.score,
            "expires": self.expires,
            "gap_ms": self.gap_ms,
        }

    def meta_values(self) -> list[Any]:
        """Values of :data:`META_COLUMNS`, ``sha256`` and (when known) ``gap_ms``, as hashed by
        :func:`meta_digest`."""
        d = asdict(self)
        known_gap = [] if self.gap_ms is None else [self.gap_ms]
        return [d[c] for c in META_COLUMNS] + [self.sha256] + known_gap


def new_record_id(start: float) -> str:
    """A fresh id that sorts by ``start`` (Unix seconds)."""
    ms = min(max(int(start * 1000), 0), 16**12 - 1)
    return f"{ms:012x}{secrets.token_hex(4)}"


def meta_digest(values: list[Any]) -> str:
    """SHA-256 hex of the canonical JSON of a row's metadata values (see META_COLUMNS)."""
    # default=repr: a tampered row may hold any SQLite type; it must hash (differently), not crash.
    body = json.dumps(
        values, separators=(",", ":"), ensure_ascii=True, allow_nan=True, default=repr
    )
    return hashlib.sha256(body.encode()).hexdigest()


def age_payload_len(plaintext_len: int) -> int:
    """Length of an age payload (after the header) for a plaintext of ``plaintext_len`` bytes."""
    chunks = max(1, math.ceil(plaintext_len / _CHUNK))
    return _NONCE + plaintext_len + _TAG * chunks


def _b64_ok(text: bytes, raw_len: int | None) -> bool:
    try:
        raw = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return raw_len is None or len(raw) == raw_len


def check_ciphertext_structure(ciphertext: bytes, samples: int) -> list[str]:
    """Problems with a record's age file, judged without a key (empty list: none)."""
    if not ciphertext.startswith(AGE_MAGIC):
        return ["ciphertext is not an age v1 file (bad magic)"]
    end = ciphertext.find(b"\n--- ")
    if end < 0:
        return ["ciphertext has no age header MAC line"]
    mac_end = ciphertext.find(b"\n", end + 1)
    if mac_end < 0:
        return ["ciphertext header is truncated"]
    problems: list[str] = []
    if not _b64_ok(ciphertext[end + 5 : mac_end], 32):
        problems.append("ciphertext header MAC is malformed")
    stanzas: list[list[bytes]] = []  # [args line, body lines...]
    for line in ciphertext[len(AGE_MAGIC) : end].split(b"\n"):
        if line.startswith(b"-> "):
            stanzas.append([line[3:]])
        elif stanzas:
            stanzas[-1].append(line)
        else:
            problems.append("ciphertext header has a line outside any stanza")
    # age implementations add random "grease" stanzas; anything else is another recipient.
    real = [s for s in stanzas if not s[0].split(b" ")[0].endswith(b"-grease")]
    kinds = [s[0].split(b" ")[0].decode("ascii", "replace") for s in real]
    if kinds != ["X25519"]:
        problems.append(f"expected exactly one X25519 recipient stanza, found {kinds}")
    else:
        args, body = real[0][0].split(b" "), real[0][1:]
        if len(args) != 2 or not _b64_ok(args[1], 32):
            problems.append("X25519 stanza's share is malformed")
        if len(body) != 1 or not _b64_ok(body[0], 32):
            problems.append("X25519 stanza's wrapped key is malformed")
    payload = len(ciphertext) - (mac_end + 1)
    expected = age_payload_len(wav_bytes_len(samples))
    if payload != expected:
        problems.append(
            f"ciphertext payload is {payload} bytes, expected {expected} for {samples} samples"
        )
    return problems


def check_record(meta: RecordMeta, ciphertext: bytes, meta_sha256: str) -> list[str]:
    """Every keyless problem with one record (empty list: none found)."""
    problems: list[str] = []
    actual = hashlib.sha256(ciphertext).hexdigest()
    if actual != meta.sha256:
        problems.append(f"ciphertext SHA-256 is {actual[:16]}..., index says {meta.sha256[:16]}...")
    if meta_digest(meta.meta_values()) != meta_sha256:
        problems.append("index row changed: metadata hash does not match")
    if not _ID_RE.fullmatch(meta.id):
        problems.append(f"record id {meta.id!r} is not 20 hex digits")
    if meta.sample_rate != SAMPLE_RATE:
        problems.append(f"sample rate {meta.sample_rate}, expected {SAMPLE_RATE}")
    elif not math.isclose(meta.duration_s, meta.samples / SAMPLE_RATE, abs_tol=1e-9):
        problems.append(f"duration {meta.duration_s} s does not match {meta.samples} samples")
    if not 0.0 <= meta.score <= 1.0:
        problems.append(f"score {meta.score} is outside [0, 1]")
    if meta.expires < meta.created:
        problems.append("expires before it was created")
    if meta.gap_ms is not None and (not isinstance(meta.gap_ms, int) or meta.gap_ms < 0):
        problems.append(f"gap_ms {meta.gap_ms!r} is not a whole number of milliseconds >= 0")
    problems.extend(check_ciphertext_structure(ciphertext, meta.samples))
    return problems
