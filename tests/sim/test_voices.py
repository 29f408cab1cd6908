"""``keepmum voices``' arithmetic and folder rules (no audio model needed), and its result on
the real LibriSpeech speakers (``shared_audio``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from keepmum.errors import ConfigError
from sim.research.voices import (
    MEMBERS,
    choose_threshold,
    crops,
    embed_corpus,
    equal_error_rate,
    find_corpora,
    load_speaker,
    report_corpus,
)
from tests.e2e.conftest import run_keepmum
from wakeword.voice import DEFAULT_VOICE_THRESHOLD, VoiceEncoder


def test_equal_error_rate_separable_and_overlapping() -> None:
    eer, thr = equal_error_rate([0.8, 0.9, 0.95], [0.1, 0.2, 0.3])
    assert eer == 0.0 and 0.3 < thr <= 0.8
    eer, _ = equal_error_rate([0.1, 0.5, 0.9, 0.95], [0.2, 0.6, 0.05, 0.0])
    assert eer == pytest.approx(0.25)
    assert equal_error_rate([], [0.1]) == (0.0, 0.0)


def test_crops_are_whole_pieces_at_most_three() -> None:
    rate = 16000
    long = np.zeros(10 * rate, np.int16)
    pieces = crops(long, 3.0)
    assert [len(p) for p in pieces] == [3 * rate] * 3
    short = np.zeros(int(3.5 * rate), np.int16)
    assert len(crops(short, 3.0)) == 1 and len(crops(short, 3.0)[0]) == len(short)


def test_find_corpora_needs_enough_speakers(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a folder"):
        find_corpora(tmp_path / "missing")
    with pytest.raises(ConfigError, match="no speaker folders"):
        find_corpora(tmp_path)
    corpus = tmp_path / "c"
    for i in range(MEMBERS):
        (corpus / f"s{i}").mkdir(parents=True)
        (corpus / f"s{i}" / "a.wav").write_bytes(b"")
    with pytest.raises(ConfigError, match="at least 5 are needed"):
        find_corpora(tmp_path)
    (corpus / "s9").mkdir()
    (corpus / "s9" / "a.wav").write_bytes(b"")
    assert list(find_corpora(tmp_path)) == ["c"]
    assert list(find_corpora(corpus)) == ["c"]  # the corpus folder itself


def test_voices_command_refuses_a_missing_folder(tmp_path: Path) -> None:
    result = run_keepmum("voices", tmp_path / "nowhere")
    assert result.returncode == 2 and "nowhere" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.shared_audio
def test_librispeech_members_are_attributed(shared_audio: Path) -> None:
    """Four LibriSpeech members (3 utterances each), 3-second requests in quiet, the report
    half, every rotation, at the device's default threshold: docs/voices.md's first row."""
    corpora = find_corpora(shared_audio / "speakers")
    speakers = [load_speaker(d) for d in corpora["librispeech"]]
    embedded = embed_corpus("librispeech", speakers, VoiceEncoder(), [])
    embedded.requests = {k: v for k, v in embedded.requests.items() if k == ("3s", "quiet")}
    (row,) = report_corpus(embedded, DEFAULT_VOICE_THRESHOLD)
    assert row.member_requests == 116 and row.stranger_requests == 29
    assert row.right / row.member_requests >= 0.95
    assert row.wrong == 0
    assert row.strangers_kept / row.stranger_requests <= 0.15
    assert row.eer < 0.02
    assert 0.6 < choose_threshold(embedded) < 0.9
