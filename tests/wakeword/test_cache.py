"""The score cache: whole entries keyed by file content and setup, torn entries ignored."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wakeword.cache import FileScores, ScoreCache, file_sha256, setup_id
from wakeword.vad import VadSettings


def _result(frames: int = 30) -> FileScores:
    rng = np.random.default_rng(frames)
    return FileScores(
        scores={
            "alexa": rng.random(frames).astype(np.float32),
            "1_minute_timer": rng.random(frames).astype(np.float32),
        },
        speech=rng.random(frames) > 0.5,
        audio_s=frames * 0.08 - 2.0,
        confirmed=rng.random(frames) > 0.7,
        loud=rng.random(frames) > 0.6,
        level_db=rng.normal(-40.0, 10.0, frames),
    )


def test_round_trip_is_exact(tmp_path: Path) -> None:
    cache = ScoreCache(tmp_path, "a" * 64)
    stored = _result()
    cache.put("f" * 64, stored)
    got = cache.get("f" * 64)
    assert got is not None
    assert got.scores.keys() == stored.scores.keys()
    for name, values in stored.scores.items():
        assert got.scores[name].dtype == np.float32
        assert np.array_equal(got.scores[name], values)
    assert np.array_equal(got.speech, stored.speech) and got.speech.dtype == np.bool_
    assert got.confirmed is not None and np.array_equal(got.confirmed, stored.confirmed)
    assert got.loud is not None and np.array_equal(got.loud, stored.loud)
    assert np.array_equal(got.gap_flags, stored.speech & stored.loud)
    # Levels are float64, bit for bit: the device compares them with float64 levels.
    assert got.level_db is not None and got.level_db.dtype == np.float64
    assert np.array_equal(got.level_db, stored.level_db)
    assert np.array_equal(got.decision_facts[3], stored.level_db)
    assert np.isnan(FileScores(stored.scores, stored.speech, 1.0).decision_facts[3]).all()
    assert got.audio_s == stored.audio_s and got.frames == 30
    assert cache.get("e" * 64) is None
    assert ScoreCache(tmp_path, "b" * 64).get("f" * 64) is None  # another setup


def test_torn_or_foreign_entry_reads_as_missing_and_is_rewritten(tmp_path: Path) -> None:
    cache = ScoreCache(tmp_path, "a" * 64)
    cache.put("f" * 64, _result())
    [entry] = list(tmp_path.rglob("*.npz"))
    entry.write_bytes(entry.read_bytes()[:100])  # a crash mid-write cannot leave this (rename)
    assert cache.get("f" * 64) is None
    cache.put("f" * 64, _result())
    assert cache.get("f" * 64) is not None
    assert not list(tmp_path.rglob("*.tmp"))


def test_setup_id_changes_with_what_scores_depend_on() -> None:
    base = setup_id(("alexa",), 1.0, VadSettings())
    assert base == setup_id(("alexa",), 1.0, VadSettings())
    assert base != setup_id(("hey_jarvis",), 1.0, VadSettings())
    assert base != setup_id(("alexa",), 0.0, VadSettings())
    assert base != setup_id(("alexa",), 1.0, VadSettings(aggressiveness=3))


def test_file_hash_is_of_the_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.write_bytes(b"RIFF" + bytes(5000))
    b.write_bytes(b"RIFF" + bytes(5000))
    assert file_sha256(a) == file_sha256(b)
    b.write_bytes(b"RIFF" + bytes(4999) + b"\x01")
    assert file_sha256(a) != file_sha256(b)
