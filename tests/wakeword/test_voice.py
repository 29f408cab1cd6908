"""The numpy speaker embedding against Resemblyzer's own, and the matcher's rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keepmum.errors import ConfigError
from wakeword.voice import (
    EMBEDDING_SIZE,
    VoiceEncoder,
    VoiceMatcher,
    cosine,
    enrol_voiceprint,
    enrolment_pieces,
    mean_voiceprint,
    mel_filterbank,
)

REPO = Path(__file__).resolve().parents[2]
REFERENCE = json.loads((REPO / "tests" / "data" / "voice_reference.json").read_text())
PROBES = REFERENCE["probes"]


@pytest.fixture(scope="module")
def encoder() -> VoiceEncoder:
    return VoiceEncoder()


def _probe_audio(probe: dict[str, object]) -> np.ndarray:
    wav, rate = sf.read(REPO / "sim" / "data" / str(probe["file"]), dtype="float32")
    assert rate == 16000
    start = int(float(probe["start_s"]) * rate)  # type: ignore[arg-type]
    end = None if probe["end_s"] is None else int(float(probe["end_s"]) * rate)  # type: ignore[arg-type]
    return wav[start:end]


@pytest.mark.parametrize(
    "probe", PROBES, ids=[f"{p['file']}-{p['start_s']}-{p['preprocess']}" for p in PROBES]
)
def test_embedding_equals_resemblyzers(encoder: VoiceEncoder, probe: dict[str, object]) -> None:
    got = encoder.embed_wav(_probe_audio(probe), preprocess=bool(probe["preprocess"]))
    want = np.array(probe["embedding"], dtype=np.float32)
    assert got.shape == (EMBEDDING_SIZE,)
    assert cosine(got, want) >= 0.999
    assert np.linalg.norm(got) == pytest.approx(1.0, abs=1e-5)


def test_reference_probes_are_not_all_alike() -> None:
    """The references must be able to fail a wrong model: distinct clips, distinct embeddings."""
    vectors = [np.array(p["embedding"], dtype=np.float32) for p in PROBES[:5]]
    assert min(cosine(a, b) for i, a in enumerate(vectors) for b in vectors[i + 1 :]) < 0.95


def test_int16_entry_point_matches_float(encoder: VoiceEncoder) -> None:
    wav = _probe_audio(PROBES[1])
    samples = np.round(wav * 32768).astype(np.int16)
    assert cosine(encoder.embed(samples), encoder.embed_wav(wav)) >= 0.9999


def test_mel_filterbank_is_librosas_shape_and_area() -> None:
    bank = mel_filterbank()
    assert bank.shape == (40, 201)
    assert (bank >= 0).all()
    # Slaney normalisation: every triangle's area (in Hz) is 1 -> peak height 2 / (width in Hz).
    hz_per_bin = 8000 / 200
    areas = bank.sum(axis=1) * hz_per_bin
    assert np.allclose(areas[5:], 1.0, atol=0.05)
    # Below 1 kHz the mel scale is linear: the first bands are equally wide.
    assert np.count_nonzero(bank[3]) == pytest.approx(np.count_nonzero(bank[4]), abs=1)


def test_silence_embeds_without_error(encoder: VoiceEncoder) -> None:
    """No speech left after trimming: embedded untrimmed, still a unit vector (or zeros)."""
    out = encoder.embed(np.zeros(16000, dtype=np.int16))
    assert out.shape == (EMBEDDING_SIZE,)


def test_matcher_threshold_and_nearest() -> None:
    a = np.zeros(EMBEDDING_SIZE, np.float32)
    a[0] = 1
    b = np.zeros(EMBEDDING_SIZE, np.float32)
    b[1] = 1
    matcher = VoiceMatcher({"alice": a, "bob": b}, 0.75, VoiceEncoder())
    probe = np.zeros(EMBEDDING_SIZE, np.float32)
    probe[:2] = [0.8, 0.6]
    hit = matcher.match_embedding(probe)
    assert (hit.member, hit.nearest, hit.score) == ("alice", "alice", 0.8)
    probe[:2] = [0.6, 0.8]
    assert matcher.match_embedding(probe).member == "bob"
    probe[:2] = [0.74, 0.67]
    miss = matcher.match_embedding(probe)
    assert miss.member is None and miss.nearest in ("alice", "bob")
    probe[:2] = [0.75, 0.1]
    assert matcher.match_embedding(probe).member == "alice"  # at the threshold is a match


def test_matcher_refuses_bad_setup() -> None:
    with pytest.raises(ConfigError):
        VoiceMatcher({}, 0.7, VoiceEncoder())
    with pytest.raises(ConfigError, match=r"0\.\.1"):
        VoiceMatcher({"a": np.ones(EMBEDDING_SIZE, np.float32)}, 1.5, VoiceEncoder())


def test_mean_voiceprint_is_unit_mean() -> None:
    a = np.zeros(EMBEDDING_SIZE, np.float32)
    a[0] = 1
    b = np.zeros(EMBEDDING_SIZE, np.float32)
    b[1] = 1
    print_ = mean_voiceprint([a, b])
    assert np.allclose(print_[:2], [2**-0.5, 2**-0.5])
    with pytest.raises(ConfigError):
        mean_voiceprint([])


def test_unreadable_model_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "voice.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match=r"voice\.npz"):
        VoiceEncoder(bad)


class _PieceRecorder(VoiceEncoder):
    """Unit-test stand-in: records each piece it is asked to embed; the embedding is one-hot on
    the piece's position in the calls (so a mean over n calls has n equal components)."""

    def __init__(self) -> None:
        self.pieces: list[np.ndarray] = []

    def embed(self, samples: np.ndarray) -> np.ndarray:  # type: ignore[override]
        self.pieces.append(samples)
        out = np.zeros(EMBEDDING_SIZE, np.float32)
        out[len(self.pieces) - 1] = 1.0
        return out


def _tone(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.round(8000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)


def test_enrolment_pieces_are_request_long() -> None:
    assert [len(p) for p in enrolment_pieces(_tone(10.0))] == [48000] * 3  # 1 s left: dropped
    assert [len(p) for p in enrolment_pieces(_tone(7.6))] == [48000, 48000, 25600]
    assert [len(p) for p in enrolment_pieces(np.zeros(48000 * 2 + 25599, np.int16))] == [48000] * 2
    assert [len(p) for p in enrolment_pieces(_tone(2.0))] == [32000]  # shorter: as it is


def test_enrol_voiceprint_embeds_each_piece_in_quiet_and_in_babble() -> None:
    recorder = _PieceRecorder()
    recordings = [_tone(6.0), _tone(2.0)]
    enrolment = enrol_voiceprint(recorder, recordings, snrs_db=(10.0, 20.0))
    # 3 pieces (2 + 1), each in quiet and at two SNRs.
    assert len(recorder.pieces) == 9
    quiet = [recordings[0][:48000], recordings[0][48000:], recordings[1]]
    assert all(np.array_equal(a, b) for a, b in zip(recorder.pieces[:2], quiet[:2], strict=True))
    assert np.array_equal(recorder.pieces[6], quiet[2])  # after the first one's 4 noisy ones
    noisy = [(recorder.pieces[2], quiet[0], 10.0), (recorder.pieces[3], quiet[0], 20.0)]
    for mixed, clean, snr in noisy:
        added = mixed.astype(np.float64) - clean
        ratio = np.sqrt(np.mean(added**2)) / np.sqrt(np.mean(clean.astype(np.float64) ** 2))
        assert ratio == pytest.approx(10 ** (-snr / 20), rel=0.02)
    # The voiceprint weighs all nine alike; each recording's own embedding is its quiet pieces.
    assert np.count_nonzero(enrolment.voiceprint) == 9
    assert np.allclose(enrolment.voiceprint[:9], 1 / 3)
    assert np.flatnonzero(enrolment.recordings[0]).tolist() == [0, 1]
    assert np.flatnonzero(enrolment.recordings[1]).tolist() == [6]
    assert enrolment.agreement == pytest.approx(1 / 3)


def test_enrol_voiceprint_is_the_same_for_the_same_recordings(encoder: VoiceEncoder) -> None:
    audio = [np.round(_probe_audio(p) * 32767).astype(np.int16) for p in PROBES[:2]]
    first = enrol_voiceprint(encoder, audio)
    again = enrol_voiceprint(encoder, audio)
    assert np.array_equal(first.voiceprint, again.voiceprint)
    quiet_only = enrol_voiceprint(encoder, audio, snrs_db=())
    assert cosine(first.voiceprint, quiet_only.voiceprint) < 0.9999  # the babble changed it
    assert np.linalg.norm(first.voiceprint) == pytest.approx(1.0, abs=1e-5)


def test_enrol_voiceprint_skips_babble_on_silence_and_refuses_nothing(tmp_path: Path) -> None:
    recorder = _PieceRecorder()
    enrol_voiceprint(recorder, [np.zeros(16000, np.int16)])
    assert len(recorder.pieces) == 1  # no level to set the babble against
    with pytest.raises(ConfigError, match="at least one recording"):
        enrol_voiceprint(recorder, [])
    with pytest.raises(ConfigError, match=r"missing\.npz"):
        enrol_voiceprint(recorder, [_tone(2.0)], babble_path=tmp_path / "missing.npz")
