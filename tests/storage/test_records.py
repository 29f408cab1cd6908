"""Record ids, the metadata hash and the keyless structure check of age ciphertexts."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pyrage
import pytest
from pyrage import x25519

from storage.records import (
    RecordMeta,
    age_payload_len,
    check_ciphertext_structure,
    check_record,
    meta_digest,
    new_record_id,
)
from storage.wav import pcm_to_wav
from tests.storage.vault_fixtures import noise

IDENTITY = x25519.Identity.generate()


def _record(samples: int = 800) -> tuple[RecordMeta, bytes, str]:
    ct = pyrage.encrypt(pcm_to_wav(noise(samples / 16000)), [IDENTITY.to_public()])
    meta = RecordMeta(
        id="018bcfe568001234abcd",
        member="alice",
        start=1.7e9,
        start_t=0.5,
        duration_s=samples / 16000,
        samples=samples,
        sample_rate=16000,
        model="hey_jarvis",
        score=0.9,
        end_reason="silence",
        source="a.wav",
        created=1.7e9,
        expires=1.7e9 + 86400,
        sha256=hashlib.sha256(ct).hexdigest(),
        size=len(ct),
    )
    return meta, ct, meta_digest(meta.meta_values())


def test_ids_are_20_hex_and_sort_by_time() -> None:
    a, b = new_record_id(1_700_000_000.0), new_record_id(1_700_000_000.002)
    assert re.fullmatch(r"[0-9a-f]{20}", a) and a[:12] == "018bcfe56800"
    assert a < b
    assert new_record_id(-5)[:12] == "0" * 12


def test_golden_meta_digest() -> None:
    # These bytes must not change silently: stored rows would stop verifying.
    values = ["r", "alice", 1.5, 0.0, 1.0, 16000, 16000, "m", 0.5, "silence", "", 2.0, 3.0, "ab"]
    body = '["r","alice",1.5,0.0,1.0,16000,16000,"m",0.5,"silence","",2.0,3.0,"ab"]'
    assert meta_digest(values) == hashlib.sha256(body.encode()).hexdigest()


@pytest.mark.parametrize("n", [0, 1, 65535, 65536, 65537, 200000])
def test_payload_length_matches_what_age_makes(n: int) -> None:
    ct = pyrage.encrypt(b"x" * n, [IDENTITY.to_public()])
    header_end = ct.index(b"\n", ct.index(b"\n--- ") + 1) + 1
    assert len(ct) - header_end == age_payload_len(n)


def test_a_real_record_has_no_problems() -> None:
    meta, ct, digest = _record()
    assert check_record(meta, ct, digest) == []


def test_every_flipped_ciphertext_byte_is_found() -> None:
    meta, ct, digest = _record(200)
    for i in range(len(ct)):
        bad = bytearray(ct)
        bad[i] ^= 0x01
        assert check_record(meta, bytes(bad), digest), i


def test_header_damage_is_found_even_with_a_matching_sha256() -> None:
    # An attacker who also rewrites sha256 still leaves a structurally wrong file behind.
    meta, ct, _ = _record(200)
    for cut in (5, 30, len(ct) - 1, len(ct) + 1):
        bad = ct[:cut] if cut <= len(ct) else ct + b"\0"
        problems = check_ciphertext_structure(bad, meta.samples)
        assert problems, cut


def test_a_second_recipient_is_found() -> None:
    other = x25519.Identity.generate().to_public()
    ct = pyrage.encrypt(pcm_to_wav(noise(0.01)), [IDENTITY.to_public(), other])
    problems = check_ciphertext_structure(ct, 160)
    assert any("exactly one X25519" in p for p in problems)


def test_a_passphrase_file_is_not_a_record() -> None:
    ct = pyrage.passphrase.encrypt(pcm_to_wav(noise(0.01)), "pw")
    assert any("X25519" in p for p in check_ciphertext_structure(ct, 160))


def test_wrong_length_for_the_metadata_is_found() -> None:
    _meta, ct, _ = _record(800)
    assert any("payload" in p for p in check_ciphertext_structure(ct, 801))


def test_gap_ms_joins_the_digest_only_when_known() -> None:
    # A record stored before schema 7 (gap_ms NULL) keeps the digest it was stored with; a known
    # gap is bound like every other column, so changing or erasing it is found.
    meta, ct, old_digest = _record(800)
    assert meta.gap_ms is None and meta.meta_values()[-1] == meta.sha256
    assert check_record(meta, ct, old_digest) == []
    paused = RecordMeta(**{**meta.__dict__, "gap_ms": 2160})
    assert paused.meta_values() == [*meta.meta_values(), 2160]
    digest = meta_digest(paused.meta_values())
    assert check_record(paused, ct, digest) == []
    for changed in (0, 2240, None):
        forged = RecordMeta(**{**meta.__dict__, "gap_ms": changed})
        assert any("metadata hash" in p for p in check_record(forged, ct, digest)), changed
    assert paused.as_json()["gap_ms"] == 2160 and meta.as_json()["gap_ms"] is None


def test_inconsistent_metadata_is_found() -> None:
    meta, ct, _ = _record(800)
    changes: list[tuple[dict[str, Any], str]] = [
        ({"duration_s": 1.0}, "duration"),
        ({"score": 1.5}, "score"),
        ({"expires": 0.0}, "expires before"),
        ({"id": "XYZ"}, "20 hex"),
        ({"sample_rate": 8000}, "sample rate"),
        ({"gap_ms": -80}, "gap_ms -80"),
        ({"gap_ms": 1.5}, "gap_ms 1.5"),
    ]
    for change, text in changes:
        bad = RecordMeta(**{**meta.__dict__, **change})
        problems = check_record(bad, ct, meta_digest(bad.meta_values()))
        assert any(text in p for p in problems), (change, problems)
