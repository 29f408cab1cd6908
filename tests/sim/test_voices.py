"""``keepmum voices``' arithmetic and folder rules (no audio model needed), its protocol on
speakers the project makes with espeak-ng (``system``), and its result on the real LibriSpeech
speakers (``shared_audio``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keepmum.errors import ConfigError
from sim.research.voices import (
    MEMBERS,
    Speaker,
    choose_threshold,
    crops,
    embed_corpus,
    equal_error_rate,
    find_corpora,
    load_speaker,
    noise_name,
    operating_threshold,
    report_corpus,
)
from tests.conftest import REPO, require_tool
from tests.e2e.conftest import run_keepmum
from wakeword.voice import DEFAULT_VOICE_THRESHOLD, VoiceEncoder, VoiceMatcher, enrol_voiceprint


def test_equal_error_rate_separable_and_overlapping() -> None:
    eer, thr = equal_error_rate([0.8, 0.9, 0.95], [0.1, 0.2, 0.3])
    assert eer == 0.0 and 0.3 < thr <= 0.8
    eer, _ = equal_error_rate([0.1, 0.5, 0.9, 0.95], [0.2, 0.6, 0.05, 0.0])
    assert eer == pytest.approx(0.25)
    assert equal_error_rate([], [0.1]) == (0.0, 0.0)


@pytest.mark.parametrize("share", [0.0, 0.01, 0.05, 0.3])
def test_operating_threshold_is_the_lowest_that_keeps_the_share(share: float) -> None:
    scores = list(np.random.default_rng(7).uniform(0.2, 0.95, 400))
    threshold = operating_threshold(scores, share)
    allowed = int(share * len(scores))
    assert sum(s >= threshold for s in scores) <= allowed
    assert sum(s >= threshold - 0.001 for s in scores) > allowed  # and no lower step would do
    assert threshold == round(threshold, 3)


def test_operating_threshold_of_ties_and_of_everything() -> None:
    assert operating_threshold([0.5] * 10, 0.05) == 0.501  # a tie cannot be split: refuse all
    assert operating_threshold([0.5, 0.7], 1.0) == 0.0  # every score may pass


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


def test_load_speaker_splits_enrolment_from_requests(tmp_path: Path) -> None:
    for n in range(3):
        sf.write(tmp_path / f"{n}.wav", np.full(1600, n + 1, np.int16), 16000)
    speaker = load_speaker(tmp_path, enrol=2)
    assert [int(a[0]) for a in speaker.enrol] == [1, 2]
    assert [int(a[0]) for a in speaker.requests] == [3]
    with pytest.raises(ConfigError, match="3 audio files; 3 enrol, so at least 4"):
        load_speaker(tmp_path, enrol=3)


def test_noise_names() -> None:
    assert noise_name(None) == "quiet"
    assert noise_name(10.0) == "babble 10 dB"
    assert noise_name(-2.5) == "babble -2.5 dB"


def test_voices_command_refuses_too_few_files_for_enrol(tmp_path: Path) -> None:
    for speaker in range(5):
        folder = tmp_path / "c" / f"s{speaker}"
        folder.mkdir(parents=True)
        for n in range(2):
            sf.write(folder / f"{n}.wav", np.zeros(1600, np.int16), 16000)
    result = run_keepmum("voices", tmp_path / "c", "--enrol", "2")
    assert result.returncode == 2 and "s0: 2 audio files; 2 enrol" in result.stderr
    assert "Traceback" not in result.stderr


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
    assert row.strangers_kept / row.stranger_requests <= 0.10
    assert row.eer < 0.02
    assert 0.6 < choose_threshold(embedded) < 0.9


ESPEAK_SPEAKERS = ("en+m3", "en-us+f3", "hi+f2", "en-029+m2", "de")
"""Five espeak-ng voices as five people (the model finds espeak-ng's voices much alike)."""
ESPEAK_TEXTS = (
    "Please set a timer for ten minutes.",
    "What is the weather like tomorrow morning?",
    "Call my sister and tell her I am late.",
    "Turn the music down in the kitchen please.",
    "Add milk and eggs to the shopping list.",
)


@pytest.fixture(scope="module")
def espeak_speakers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/espeak/<voice>/<n>.wav``: five sentences per voice (about 3 s each)."""
    espeak = require_tool("espeak-ng")
    root = tmp_path_factory.mktemp("speakers")
    for voice in ESPEAK_SPEAKERS:
        folder = root / "espeak" / voice.replace("+", "_")
        folder.mkdir(parents=True)
        for n, text in enumerate(ESPEAK_TEXTS):
            wav = folder / f"{n}.wav"
            subprocess.run([espeak, "-v", voice, "-s", "140", "-w", str(wav), text], check=True)
    babble = root / "babble"
    babble.mkdir()
    for name in ("talk_cat.wav", "talk_salt.wav", "television.wav"):
        shutil.copy(REPO / "sim" / "data" / name, babble / name)
    return root


@pytest.mark.system
def test_voices_command_protocol_on_espeak_speakers(espeak_speakers: Path) -> None:
    """3 files enrol, 2 are requests (one per half): per rotation 4 members' and 1 stranger's
    report-half request, 5 rotations; 0.8 s requests are 3 pieces of each; babble rows too."""
    result = run_keepmum(
        "voices", espeak_speakers / "espeak", "--babble", espeak_speakers / "babble", "--json"
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    rows = {(r["corpus"], r["duration"], r["noise"]): r for r in lines if "duration" in r}
    noises = ("quiet", "babble 10 dB")
    # The choosing corpus is measured through a telephone band too, on 3-second requests.
    assert set(rows) == {("espeak", d, n) for d in ("3s", "sub1s") for n in noises} | {
        ("espeak 8 kHz band", "3s", n) for n in noises
    }
    for (_corpus, duration, _noise), row in rows.items():
        pieces = 1 if duration == "3s" else 3
        assert (row["rotations"], row["speakers"]) == (5, 5)
        assert row["member_requests"] == 20 * pieces and row["stranger_requests"] == 5 * pieces
        assert row["right"] + row["wrong"] <= row["member_requests"]
        low, high = row["right_interval"]
        assert low <= row["right"] / row["member_requests"] <= high
    (chosen,) = [r for r in lines if r.get("event") == "threshold"]
    assert chosen["chosen_on"] == "espeak" and chosen["false_accept"] == 0.01
    assert chosen["channels"] == ["espeak", "espeak 8 kHz band"]
    assert 0.5 < chosen["threshold"] < 1.0


@pytest.mark.system
def test_voices_protocol_files_everyone_at_zero_and_no_one_at_one(espeak_speakers: Path) -> None:
    corpora = find_corpora(espeak_speakers / "espeak")
    speakers = [load_speaker(d) for d in corpora["espeak"]]
    embedded = embed_corpus("espeak", speakers, VoiceEncoder(), [])
    everyone = {(r.duration, r.noise): r for r in report_corpus(embedded, 0.0)}
    for row in everyone.values():
        assert row.right + row.wrong == row.member_requests
        assert row.strangers_kept == row.stranger_requests
    # The nearest voiceprint is the speaker's own for most 3-second requests.
    assert everyone[("3s", "quiet")].right >= 0.7 * everyone[("3s", "quiet")].member_requests
    for row in report_corpus(embedded, 1.0):
        assert row.right == row.wrong == row.strangers_kept == 0


@pytest.mark.shared_audio
def test_four_librispeech_members_filed_right_and_a_fifth_refused(shared_audio: Path) -> None:
    """The device's own path: four members enrolled as ``member enrol`` does (3 recordings
    each), a matcher at the default threshold; their held-out 3-second requests (the report
    half: odd-numbered request files) are filed under them, the fifth speaker's refused."""
    corpora = find_corpora(shared_audio / "speakers")
    *members, stranger = [load_speaker(d) for d in corpora["librispeech"]]
    encoder = VoiceEncoder()
    prints = {s.name: enrol_voiceprint(encoder, s.enrol).voiceprint for s in members}
    matcher = VoiceMatcher(prints, DEFAULT_VOICE_THRESHOLD, encoder)

    def filed(speaker: Speaker) -> list[str | None]:
        held_out = [a for i, a in enumerate(speaker.requests) if i % 2 == 1]
        return [matcher.match(piece).member for a in held_out for piece in crops(a, 3.0)]

    for member in members:
        got = filed(member)
        assert len(got) >= 3
        assert got.count(member.name) == len(got), (member.name, got)
    refused = filed(stranger)
    assert refused.count(None) >= 0.9 * len(refused), refused
