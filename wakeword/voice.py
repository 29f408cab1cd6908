"""Whose voice is it: a speaker embedding (GE2E, Resemblyzer's weights) in numpy.

The model is Resemblyzer 0.1.4's voice encoder (Apache-2.0, licence in
``wakeword/data/voice_ge2e.LICENSE``): a 3-layer LSTM (hidden 256) over 40 mel bands, the last
layer's final state through a linear layer (256) and a ReLU, L2-normalised. Its weights were
read once from the wheel by ``scripts/convert_voice_model.py`` into ``wakeword/data/
voice_ge2e.npz``; nothing here needs torch, and nothing is downloaded.

An utterance is embedded as Resemblyzer's ``preprocess_wav`` + ``embed_utterance`` do it:

1. volume raised (never lowered) to -30 dBFS;
2. long silences trimmed with webrtcvad (mode 3, 30 ms windows, a moving average of 8 windows,
   dilated by 7 windows): what is left is speech with short gaps;
3. a power mel spectrogram (librosa's ``melspectrogram`` at its defaults: 25 ms Hann window,
   10 ms hop, centred with zero padding, Slaney mel scale and area normalisation, 0-8 kHz);
   not a log spectrogram, which is why step 1 matters;
4. partial utterances of 160 frames (1.6 s) every 0.77 s (1.3 per second), the last one kept when
   it is at least 75 % covered (zero-padded); one partial at least;
5. each partial through the network; the partials' embeddings averaged and L2-normalised.

Two embeddings are compared by their cosine similarity (a dot product: both have unit length).
The embeddings are non-negative, so the similarity lies in [0, 1].

A member's voiceprint (:func:`enrol_voiceprint`) is the mean of embeddings of 3-second pieces of
their recordings, each in quiet and mixed with synthetic babble (espeak-ng voices, shipped in
``wakeword/data/voice_babble.npz``, made by ``scripts/make_voice_babble.py``) at 10 and 20 dB
SNR: a request is 3 seconds of speech, often heard through other talkers, and a voiceprint made
of such pieces lies nearer to it (docs/voices.md has the measurement).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import webrtcvad
from threadpoolctl import ThreadpoolController

from device.audio import SAMPLE_RATE, Pcm
from keepmum.errors import ConfigError

__all__ = [
    "DEFAULT_VOICE_THRESHOLD",
    "EMBEDDING_SIZE",
    "ENROL_BABBLE_SNRS_DB",
    "ENROL_PIECE_S",
    "PARTIAL_S",
    "VOICE_BABBLE_PATH",
    "VOICE_MODEL_NAME",
    "VOICE_MODEL_PATH",
    "Embedder",
    "Enrolment",
    "VoiceEncoder",
    "VoiceMatch",
    "VoiceMatcher",
    "cosine",
    "enrol_voiceprint",
    "enrolment_pieces",
    "mean_voiceprint",
    "mel_filterbank",
]

DEFAULT_VOICE_THRESHOLD = 0.750
"""Cosine score a request needs to be filed under a member (voiceprints made by
:func:`enrol_voiceprint`): the threshold ``keepmum voices`` chose on half of the LibriSpeech
requests (3 s, quiet and babble), where at most 1 % of scores against another speaker's
voiceprint reach it, as recorded and through a telephone band, whichever is higher: the band's
(docs/voices.md, docs/decisions/2026-12-08-threshold-over-channels.md)."""
VOICE_BABBLE_PATH = Path(__file__).resolve().parent / "data" / "voice_babble.npz"
"""Synthetic 3-talker babble (espeak-ng) mixed into enrolment recordings; nobody's voice."""
ENROL_PIECE_S = 3.0
"""Enrolment recordings are embedded in pieces of this length: the length of a request."""
ENROL_BABBLE_SNRS_DB = (10.0, 20.0)
"""Each enrolment piece is also embedded mixed with the babble at these SNRs."""
VOICE_MODEL_NAME = "resemblyzer-0.1.4-ge2e"
"""Names the model in voiceprints: a voiceprint matches only embeddings of the same model."""
VOICE_MODEL_PATH = Path(__file__).resolve().parent / "data" / "voice_ge2e.npz"
EMBEDDING_SIZE = 256
"""Length of an embedding (and of a voiceprint)."""

Vector = npt.NDArray[np.float32]

_N_FFT = 400  # 25 ms at 16 kHz
_HOP = 160  # 10 ms
_N_MELS = 40
_PARTIAL_FRAMES = 160
PARTIAL_S = _PARTIAL_FRAMES * _HOP / SAMPLE_RATE
"""The model hears speech in partials of this length (1.6 s); shorter audio is zero-padded to
one partial, so it says less about a voice."""
_PARTIAL_RATE = 1.3  # partials per second
_MIN_COVERAGE = 0.75
_TARGET_DBFS = -30.0
_VAD_WINDOW = 480  # 30 ms
_VAD_AVERAGE = 8
_VAD_MAX_SILENCE = 6
_INT16_MAX = 2**15 - 1


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney's mel scale (librosa's default, ``htk=False``): linear to 1 kHz, then log."""
    f_sp = 200.0 / 3
    mel = hz / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    log_part = min_log_mel + np.log(np.maximum(hz, min_log_hz) / min_log_hz) / logstep
    return np.where(hz >= min_log_hz, log_part, mel)


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    f_sp = 200.0 / 3
    hz = mel * f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    log_part = min_log_hz * np.exp(logstep * (np.maximum(mel, min_log_mel) - min_log_mel))
    return np.where(mel >= min_log_mel, log_part, hz)


@functools.cache
def mel_filterbank(
    sample_rate: int = SAMPLE_RATE, n_fft: int = _N_FFT, n_mels: int = _N_MELS
) -> Vector:
    """librosa's ``filters.mel(sr, n_fft, n_mels)`` (fmin 0, fmax sr/2, Slaney scale and
    ``norm="slaney"``): triangles on the mel scale, each scaled to unit area. Shape
    ``(n_mels, n_fft // 2 + 1)``."""
    fft_hz = np.linspace(0.0, sample_rate / 2, 1 + n_fft // 2)
    edges_mel = np.linspace(
        _hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(sample_rate / 2.0)), n_mels + 2
    )
    edges_hz = _mel_to_hz(edges_mel)
    widths = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return weights.astype(np.float32)


def _mel_spectrogram(wav: npt.NDArray[np.float32]) -> Vector:
    """Power mel spectrogram, one row per 10 ms frame (librosa's centred STFT, zero-padded)."""
    padded = np.pad(wav, (_N_FFT // 2, _N_FFT // 2))
    n_frames = 1 + (len(padded) - _N_FFT) // _HOP
    starts = np.arange(n_frames) * _HOP
    frames = padded[starts[:, None] + np.arange(_N_FFT)[None, :]]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_N_FFT) / _N_FFT)).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    return (power.astype(np.float32) @ mel_filterbank().T).astype(np.float32)


def _raise_volume(wav: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    rms = float(np.sqrt(np.mean((wav.astype(np.float64) * _INT16_MAX) ** 2)))
    if rms == 0.0:
        return wav
    change_db = _TARGET_DBFS - 20 * np.log10(rms / _INT16_MAX)
    if change_db < 0:
        return wav
    return (wav * (10 ** (change_db / 20))).astype(np.float32)


def _trim_long_silences(wav: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Keep speech and gaps of up to ~0.2 s between it (Resemblyzer's ``trim_long_silences``)."""
    wav = wav[: len(wav) - len(wav) % _VAD_WINDOW]
    if len(wav) == 0:
        return wav
    pcm = np.round(wav * _INT16_MAX).astype(np.int16).tobytes()
    vad = webrtcvad.Vad(3)
    step = _VAD_WINDOW * 2
    flags = np.array(
        [vad.is_speech(pcm[i : i + step], SAMPLE_RATE) for i in range(0, len(pcm), step)],
        dtype=np.float64,
    )
    width = _VAD_AVERAGE
    padded = np.concatenate((np.zeros((width - 1) // 2), flags, np.zeros(width // 2)))
    sums = np.cumsum(padded)
    sums[width:] = sums[width:] - sums[:-width]
    mask = np.round(sums[width - 1 :] / width).astype(bool)
    # scipy's binary_dilation with a centred structure of 7 ones: a window is kept if any window
    # within 3 on either side is speech.
    reach = (_VAD_MAX_SILENCE + 1) // 2
    full = np.convolve(mask.astype(np.int64), np.ones(2 * reach + 1, dtype=np.int64))
    dilated = full[reach : reach + len(mask)]
    return wav[np.repeat(dilated > 0, _VAD_WINDOW)]


def _partial_starts(n_samples: int) -> list[int]:
    """Frame offsets of the partial utterances (Resemblyzer's ``compute_partial_slices``)."""
    n_frames = int(np.ceil((n_samples + 1) / _HOP))
    frame_step = int(np.round((SAMPLE_RATE / _PARTIAL_RATE) / _HOP))
    steps = max(1, n_frames - _PARTIAL_FRAMES + frame_step + 1)
    starts = list(range(0, steps, frame_step))
    last = starts[-1] * _HOP
    coverage = (n_samples - last) / (_PARTIAL_FRAMES * _HOP)
    if coverage < _MIN_COVERAGE and len(starts) > 1:
        starts = starts[:-1]
    return starts


def _sigmoid(x: Vector) -> Vector:
    return (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32)


def cosine(a: Vector, b: Vector) -> float:
    """Cosine similarity of two embeddings (1: the same direction)."""
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def mean_voiceprint(embeddings: list[Vector]) -> Vector:
    """A member's voiceprint: the L2-normalised mean of their enrolment embeddings."""
    if not embeddings:
        raise ConfigError("a voiceprint needs at least one embedding")
    mean = np.mean(np.stack(embeddings), axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


def enrolment_pieces(samples: Pcm, seconds: float = ENROL_PIECE_S) -> list[Pcm]:
    """Non-overlapping pieces of ``seconds``; a last remainder of one partial (1.6 s) or more is
    a piece too; a recording shorter than one piece is one piece as it is."""
    n = int(seconds * SAMPLE_RATE)
    pieces = [samples[i : i + n] for i in range(0, len(samples) - n + 1, n)]
    rest = samples[len(pieces) * n :]
    if not pieces or len(rest) >= _PARTIAL_FRAMES * _HOP:
        pieces.append(rest)
    return pieces


@functools.cache
def _enrol_babble(path: Path = VOICE_BABBLE_PATH) -> npt.NDArray[np.float32]:
    try:
        with np.load(path) as data:
            babble = data["samples"].astype(np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{path}: cannot read the enrolment babble: {exc}") from exc
    if len(babble) == 0:
        raise ConfigError(f"{path}: the enrolment babble is empty")
    return babble


def _with_babble(
    piece: Pcm, babble: npt.NDArray[np.float32], snr_db: float, offset: int
) -> Pcm | None:
    """``piece`` with the babble from ``offset`` at ``snr_db`` below its level (None: silent)."""
    x = piece.astype(np.float32)
    level = float(np.sqrt(np.mean(x**2)))
    if level == 0.0:
        return None
    noise = np.resize(np.roll(babble, -offset), len(x))
    noise_level = float(np.sqrt(np.mean(noise**2)))
    if noise_level == 0.0:
        return None
    mixed = x + noise * level / noise_level / (10 ** (snr_db / 20))
    return np.clip(np.round(mixed), -32768, 32767).astype(np.int16)


class VoiceEncoder:
    """Speech in, one unit-length 256-float embedding out. Load once; embed many times."""

    def __init__(self, path: Path = VOICE_MODEL_PATH) -> None:
        try:
            with np.load(path) as data:
                weights = {key: data[key].astype(np.float32) for key in data.files}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read the voice model: {exc}") from exc
        self._layers = [
            (
                weights[f"lstm.weight_ih_l{k}"].T.copy(),
                weights[f"lstm.weight_hh_l{k}"].T.copy(),
                weights[f"lstm.bias_ih_l{k}"] + weights[f"lstm.bias_hh_l{k}"],
            )
            for k in range(3)
        ]
        self._linear_w = weights["linear.weight"].T.copy()
        self._linear_b = weights["linear.bias"]
        # The LSTM is 480 small matrix products per partial: a multi-threaded BLAS spends more
        # on waking its threads than on the work (15x the CPU time on a busy 2-core machine),
        # so each embedding runs BLAS on one thread.
        self._blas = ThreadpoolController()

    def _forward(self, mels: Vector) -> Vector:
        """Embeddings of a batch of partials, shape ``(batch, frames, 40)`` -> ``(batch, 256)``."""
        x = mels
        batch, steps, _ = mels.shape
        for w_ih, w_hh, bias in self._layers:
            hidden = w_hh.shape[0]
            gates_in = x @ w_ih + bias  # every step's input term at once
            h = np.zeros((batch, hidden), np.float32)
            c = np.zeros((batch, hidden), np.float32)
            out = np.empty((batch, steps, hidden), np.float32)
            for t in range(steps):
                gates = gates_in[:, t] + h @ w_hh
                i = _sigmoid(gates[:, :hidden])  # PyTorch's gate order: input, forget, cell, out
                f = _sigmoid(gates[:, hidden : 2 * hidden])
                g = np.tanh(gates[:, 2 * hidden : 3 * hidden])
                o = _sigmoid(gates[:, 3 * hidden :])
                c = f * c + i * g
                h = o * np.tanh(c)
                out[:, t] = h
            x = out
        raw = np.maximum(0.0, h @ self._linear_w + self._linear_b)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return (raw / np.where(norms == 0, 1.0, norms)).astype(np.float32)

    def embed_wav(self, wav: npt.NDArray[np.float32], *, preprocess: bool = True) -> Vector:
        """Embedding of float audio in [-1, 1] at 16 kHz. ``preprocess`` raises the volume and
        trims long silences first (step 1-2 above); an utterance with no speech left after
        trimming is embedded untrimmed."""
        wav = np.asarray(wav, dtype=np.float32)
        if preprocess:
            wav = _raise_volume(wav)
            trimmed = _trim_long_silences(wav)
            wav = trimmed if len(trimmed) > 0 else wav
        starts = _partial_starts(len(wav))
        needed = (starts[-1] + _PARTIAL_FRAMES) * _HOP
        if needed >= len(wav):
            wav = np.pad(wav, (0, needed - len(wav)))
        mel = _mel_spectrogram(wav)
        mels = np.stack([mel[s : s + _PARTIAL_FRAMES] for s in starts])
        with self._blas.limit(limits=1, user_api="blas"):
            partials = self._forward(mels)
        mean = partials.mean(axis=0)
        return (mean / np.linalg.norm(mean)).astype(np.float32)

    def embed(self, samples: Pcm) -> Vector:
        """Embedding of 16 kHz mono int16 audio (what the device holds)."""
        return self.embed_wav(np.asarray(samples, dtype=np.float32) / 32768.0)


@dataclass(frozen=True)
class Enrolment:
    """A member's voiceprint and what it was made of."""

    voiceprint: Vector
    recordings: list[Vector]
    """Each recording's own embedding (the mean of its pieces in quiet), to check agreement."""

    @property
    def agreement(self) -> float:
        """The lowest cosine of one recording to the voiceprint: a low figure means one file is
        someone else, or noise."""
        return min(cosine(e, self.voiceprint) for e in self.recordings)


def enrol_voiceprint(
    encoder: VoiceEncoder,
    recordings: Sequence[Pcm],
    *,
    snrs_db: Sequence[float] = ENROL_BABBLE_SNRS_DB,
    babble_path: Path = VOICE_BABBLE_PATH,
) -> Enrolment:
    """A voiceprint from a member's recordings (16 kHz int16): the L2-normalised mean of the
    embeddings of every :func:`enrolment_pieces` piece, in quiet and with the shipped babble at
    each of ``snrs_db`` (babble offsets from a fixed seed: the same recordings give the same
    voiceprint). ConfigError if there is no recording."""
    if not recordings:
        raise ConfigError("a voiceprint needs at least one recording")
    babble = _enrol_babble(babble_path) if snrs_db else np.zeros(0, np.float32)
    rng = np.random.default_rng(0)
    embeddings: list[Vector] = []
    own: list[Vector] = []
    for samples in recordings:
        pieces = enrolment_pieces(samples)
        quiet = [encoder.embed(piece) for piece in pieces]
        own.append(mean_voiceprint(quiet))
        embeddings += quiet
        for piece in pieces:
            for snr in snrs_db:
                noisy = _with_babble(piece, babble, snr, int(rng.integers(len(babble))))
                if noisy is not None:
                    embeddings.append(encoder.embed(noisy))
    return Enrolment(mean_voiceprint(embeddings), own)


@dataclass(frozen=True)
class VoiceMatch:
    """Whose voice an utterance is closest to."""

    member: str | None
    """The best-matching enrolled member at or over the threshold; None: nobody (unattributed)."""
    score: float
    """Cosine similarity to the best-matching voiceprint (0-1)."""
    nearest: str
    """The best-matching member even when under the threshold (for reports)."""


class Embedder(Protocol):
    """What embeds speech (:class:`VoiceEncoder`; a fake in unit tests)."""

    def embed(self, samples: Pcm) -> Vector:
        """One unit-length embedding of 16 kHz mono int16 speech."""
        ...


class VoiceMatcher:
    """Enrolled voiceprints and the threshold a match needs."""

    def __init__(self, voiceprints: dict[str, Vector], threshold: float, encoder: Embedder) -> None:
        if not voiceprints:
            raise ConfigError("voice matching needs at least one enrolled voiceprint")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"voice threshold must be in 0..1, got {threshold!r}")
        self.names = tuple(voiceprints)
        self._prints = np.stack([voiceprints[name] for name in self.names])
        self.threshold = threshold
        self.encoder = encoder

    def match_embedding(self, embedding: Vector) -> VoiceMatch:
        """The best voiceprint for an embedding already computed."""
        scores = self._prints @ embedding
        best = int(np.argmax(scores))
        score = float(scores[best])
        member = self.names[best] if score >= self.threshold else None
        return VoiceMatch(member, round(score, 4), self.names[best])

    def match(self, samples: Pcm) -> VoiceMatch:
        """Embed 16 kHz int16 speech once and find whose voiceprint it matches."""
        return self.match_embedding(self.encoder.embed(samples))
