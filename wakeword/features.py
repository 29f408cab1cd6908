"""openWakeWord's audio features, streamed one 1280-sample frame at a time.

The math is openWakeWord 0.5.1's ``AudioFeatures._streaming_features`` (ONNX), re-done on numpy
arrays so that no Python work is done per sample:

1. Mel spectrogram. Each frame is run through ``melspectrogram.onnx`` together with the last 480
   samples of the previous frame (1760 samples -> 8 mel frames; the very first frame has no
   predecessor: 1280 samples -> 5 mel frames), then ``spec / 10 + 2``. The mel rows sit at
   sample offsets ``160 * j`` of the input, so the streamed rows are exactly the rows of the whole
   input's spectrogram (:mod:`wakeword.batch` relies on that). The mel ring starts with 76 rows of
   ones, as openWakeWord's does.
2. Speech embedding. After frame ``k`` the ring holds ``76 + 5 + 8k`` rows; the last 76 go through
   ``embedding_model.onnx`` and give the frame's 96-dimensional feature.
3. The wake-word models read the last ``N`` features (``N`` = 16 for most built-ins).

The one intended difference from openWakeWord: its feature ring starts with the embeddings of
4 s of *random* int16 audio (``np.random.randint(-1000, 1000)``), which makes the scores of the
first 16 frames (1.28 s) differ from run to run. keepmum builds the same 41 start features from
``np.random.default_rng(0)``, so its scores are deterministic; from frame 16 on (frame 34 for
``timer``, 22 for ``weather``: the model's input length) the start features have left the
model's window and the scores are openWakeWord's.

A gated caller (the VAD gate of small boards) pushes frames with
:meth:`StreamingFeatures.push_mel` without asking for features while nobody speaks; when it asks
again, :meth:`StreamingFeatures.features` computes the mel rows and embeddings that the models
still need (the last 16 frames' worth, 25 frames of mel) and nothing older, so the scores after
the gate re-opens are those of the ungated detector, bit for bit (tested), at the cost of the
frames the models read rather than of every frame heard.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from device.audio import FRAME_SAMPLES, SAMPLE_RATE
from wakeword.backend import Backend, Session, installed_backend
from wakeword.shapes import (
    EMBEDDING_DIM,
    EMBEDDING_WINDOW,
    FIRST_FRAME_MEL_ROWS,
    MEL_BINS,
    MEL_CONTEXT_SAMPLES,
    MEL_HOP_SAMPLES,
    MEL_ROWS_PER_FRAME,
    MEL_START_ROWS,
)

if TYPE_CHECKING:
    from wakeword.incremental import StreamEmbedder, StreamState

__all__ = [
    "EMBEDDING_DIM",
    "EMBEDDING_WINDOW",
    "FIRST_FRAME_MEL_ROWS",
    "MEL_BINS",
    "MEL_CONTEXT_SAMPLES",
    "MEL_HOP_SAMPLES",
    "MEL_ROWS_PER_FRAME",
    "MEL_START_ROWS",
    "START_FEATURE_FRAMES",
    "MelFeatureModels",
    "StreamingFeatures",
    "start_features",
]

_START_AUDIO_S = 4
START_FEATURE_FRAMES = 41
"""Features the ring starts with (embeddings of 4 s of audio); no model may read more."""
_MEL_KEEP_ROWS = 970  # openWakeWord keeps 10 s; a request reads at most (41 - 1) * 8 + 76
_MEL_LOOKBACK_FRAMES = 10  # a feature's 76-row mel window starts in the frame 9 frames back


class MelFeatureModels:
    """The two sessions every detector shares: mel spectrogram and speech embedding.

    ``backend`` (default: the installed one, :func:`wakeword.backend.installed_backend`) says
    which model files and runtime; ``mel`` and ``embedding`` replace its sessions.
    """

    def __init__(
        self,
        mel: Session | None = None,
        embedding: Session | None = None,
        *,
        backend: Backend | None = None,
    ) -> None:
        self.backend = backend if backend is not None else installed_backend()
        self.mel = mel if mel is not None else self.backend.open_session(self.backend.mel_model)
        self.embedding = (
            embedding
            if embedding is not None
            else self.backend.open_session(self.backend.embedding_model)
        )
        self._mel_input = self.mel.get_inputs()[0].name
        self._embedding_input = self.embedding.get_inputs()[0].name
        self._stream: StreamEmbedder | None = None
        self._stream_built = embedding is not None  # a given session is used as it is

    @property
    def stream(self) -> StreamEmbedder | None:
        """The embedding model cut into stages that reuse the previous window's rows
        (:mod:`wakeword.incremental`), or None when the backend's model cannot be cut bit for
        bit (TFLite) or a caller gave its own embedding session; built on first use."""
        if not self._stream_built:
            from wakeword.incremental import stream_embedder

            self._stream_built = True
            self._stream = stream_embedder(self)
        return self._stream

    def melspectrogram(self, samples: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
        """Mel rows of int16 samples, transformed as openWakeWord does (``spec / 10 + 2``)."""
        audio = samples.astype(np.float32)[None, :]
        spec = np.squeeze(self.mel.run(None, {self._mel_input: audio})[0])
        rows: npt.NDArray[np.float32] = (spec / 10 + 2).astype(np.float32, copy=False)
        return rows.reshape(-1, MEL_BINS)

    def embed(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Speech embeddings of a batch of mel windows, shape ``(B, 76, 32)`` -> ``(B, 96)``."""
        batch = np.ascontiguousarray(windows, dtype=np.float32)[..., None]
        if self.backend.batch_invariant:
            out = self.embedding.run(None, {self._embedding_input: batch})[0]
        else:  # one window a run, so a window's embedding never depends on its batch
            out = np.concatenate(
                [self.embedding.run(None, {self._embedding_input: w[None]})[0] for w in batch]
            )
        result: npt.NDArray[np.float32] = out.reshape(-1, EMBEDDING_DIM)
        return result


@lru_cache(maxsize=2)
def _start_features_cached(backend: str) -> npt.NDArray[np.float32]:
    from wakeword.backend import backend_named

    models = MelFeatureModels(backend=backend_named(backend))
    audio = (
        np.random.default_rng(0)
        .integers(-1000, 1000, _START_AUDIO_S * SAMPLE_RATE, dtype=np.int64)
        .astype(np.int16)
    )
    spec = models.melspectrogram(audio)
    starts = range(0, spec.shape[0] - EMBEDDING_WINDOW + 1, 8)
    windows = np.stack([spec[s : s + EMBEDDING_WINDOW] for s in starts])
    features = models.embed(windows)
    features.setflags(write=False)
    return features


def start_features(backend: Backend | None = None) -> npt.NDArray[np.float32]:
    """The 41 features the feature ring starts with: embeddings of 4 s of seeded random audio.

    openWakeWord seeds nothing here; keepmum uses ``np.random.default_rng(0)`` so that the first
    16 frames score the same on every run. Computed once per process and backend (read-only).
    """
    return _start_features_cached((backend or installed_backend()).name)


class _Rows:
    """A growing 2-D array that keeps its last ``keep`` rows, indexed by absolute row number.

    Appends copy rows in with one numpy assignment; when the storage is full the kept tail moves
    to the front once, so appending is amortised O(rows) with no per-row Python work.
    """

    def __init__(self, width: int, keep: int) -> None:
        self._data = np.empty((2 * keep, width), dtype=np.float32)
        self._keep = keep
        self._len = 0
        self._first = 0  # absolute index of _data[0]

    @property
    def end(self) -> int:
        """Absolute index one past the last row."""
        return self._first + self._len

    @property
    def first(self) -> int:
        """Absolute index of the oldest row still held."""
        return self._first

    def clear(self, first: int = 0) -> None:
        self._len = 0
        self._first = first

    def extend(self, rows: npt.NDArray[np.float32]) -> None:
        n = rows.shape[0]
        if self._len + n > self._data.shape[0]:
            keep = min(self._len, self._keep)
            self._data[:keep] = self._data[self._len - keep : self._len]
            self._first += self._len - keep
            self._len = keep
        self._data[self._len : self._len + n] = rows
        self._len += n

    def fill(self, stop: int, value: float) -> None:
        """Append rows of ``value`` up to absolute index ``stop``."""
        if stop - self.end >= self._keep:  # a long gap: none of the held rows stays
            self.clear(first=stop)
            return
        while self.end < stop:
            n = min(stop - self.end, self._keep)
            self.extend(np.full((n, self._data.shape[1]), value, dtype=np.float32))

    def span(self, start: int, stop: int) -> npt.NDArray[np.float32]:
        """Rows ``start`` to ``stop`` (absolute, stop excluded); a view."""
        if start < self._first or stop > self.end:
            raise IndexError(f"rows {start}:{stop} not held (held {self._first}:{self.end})")
        return self._data[start - self._first : stop - self._first]

    def set(self, start: int, rows: npt.NDArray[np.float32]) -> None:
        self.span(start, start + rows.shape[0])[...] = rows


class StreamingFeatures:
    """The mel and feature rings of one audio stream (see the module docstring for the math).

    ``max_feature_frames`` is the longest model input that will be read (16 for most built-ins,
    34 for ``timer``): the feature ring keeps at least that many features.

    Work is done when a model asks for features, and only what it needs: frames pushed since
    the last request wait as raw samples (at most ``max_feature_frames + 10`` of them, the most
    any request can need: a feature's mel window reaches 9.5 frames back); a request computes
    their mel rows one frame at a time, exactly as if each had been computed on arrival, and the
    embeddings in one batch. Called every frame (ungated) this is one mel and one embedding run
    per frame, openWakeWord's order of work; called after a gap (VAD gate) it costs the last few
    frames instead of all of them. When the backend's embedding model can be staged
    (:mod:`wakeword.incremental`, ONNX), a frame that follows the last embedded one runs only the
    stages' new rows (the stream keeps their last input rows), bit for bit the whole model's
    embedding at about a third of its cost; after a gap or a reset the stages start from scratch.
    """

    def __init__(
        self, models: MelFeatureModels | None = None, max_feature_frames: int = 16
    ) -> None:
        self.models = models if models is not None else MelFeatureModels()
        self.max_feature_frames = max_feature_frames
        self._pending_keep = max_feature_frames + _MEL_LOOKBACK_FRAMES
        self._mel = _Rows(MEL_BINS, _MEL_KEEP_ROWS)
        self._features = _Rows(EMBEDDING_DIM, max(120, max_feature_frames))
        self._pending: deque[npt.NDArray[np.int16]] = deque()
        self._tail = np.zeros(0, dtype=np.int16)  # the 480 samples before the first pending
        self.frames = 0
        """Frames pushed so far (the next frame's index)."""
        self._melted = 0  # frames whose mel rows are in the mel ring (or were skipped)
        self._embedded = 0  # frames whose feature is in the feature ring (or was skipped)
        # Build (and check) the staged embedding now, not on the first frame of live audio.
        self._state: StreamState | None = None
        """The staged embedding's rows kept between frames (None: whole windows)."""
        if self.models.stream is not None:
            from wakeword.incremental import StreamState

            self._state = StreamState()
        self.reset()

    def reset(self) -> None:
        """Forget the stream: back to the rings a fresh openWakeWord model starts with."""
        self._mel.clear()
        self._mel.extend(np.ones((MEL_START_ROWS, MEL_BINS), dtype=np.float32))
        start = start_features(self.models.backend)
        self._features.clear(first=-start.shape[0])
        self._features.extend(start)
        self._pending.clear()
        self._tail = np.zeros(0, dtype=np.int16)
        self.frames = 0
        self._melted = 0
        self._embedded = 0
        if self._state is not None:
            self._state.clear()

    def push_mel(self, frame: npt.NDArray[np.int16]) -> None:
        """Add one frame; its mel rows and embedding are computed when a model needs them."""
        if frame.shape != (FRAME_SAMPLES,) or frame.dtype != np.int16:
            raise ValueError(
                f"a frame is {FRAME_SAMPLES} int16 samples, got shape {frame.shape} {frame.dtype}"
            )
        self._pending.append(frame.copy())
        if len(self._pending) > self._pending_keep:  # too old to be needed by any request
            dropped = self._pending.popleft()
            self._tail = dropped[-MEL_CONTEXT_SAMPLES:]
            self._melted += 1
        self.frames += 1

    def features(self, n: int) -> npt.NDArray[np.float32]:
        """The last ``n`` features, shape ``(n, 96)``, computing whatever frames still lack.

        Frames too old to matter to any model (more than ``max_feature_frames`` back) are not
        embedded after a gap; their slots hold NaN, which no model ever reads.
        """
        if n > self.max_feature_frames:
            raise ValueError(f"asked for {n} features, ring sized for {self.max_feature_frames}")
        self._embed_missing()
        return self._features.span(self.frames - n, self.frames)

    def _melt_pending(self, first_needed: int) -> None:
        """Mel rows of the pending frames from ``first_needed`` on (earlier ones skipped)."""
        while self._pending:
            frame = self._pending.popleft()
            index = self._melted
            self._melted += 1
            if index >= first_needed:
                audio = np.concatenate((self._tail, frame)) if index else frame
                rows = self.models.melspectrogram(audio)
                self._mel.fill(_first_mel_row(index), np.nan)
                self._mel.extend(rows)
            self._tail = frame[-MEL_CONTEXT_SAMPLES:]

    def _embed_missing(self) -> None:
        if self._embedded == self.frames:
            return
        first_needed = max(self._embedded, self.frames - self.max_feature_frames)
        self._melt_pending(max(0, first_needed - _MEL_LOOKBACK_FRAMES))
        self._features.fill(first_needed, np.nan)
        # Frame k's window ends at mel row 76 + 5 + 8k.
        first_end = MEL_START_ROWS + FIRST_FRAME_MEL_ROWS + MEL_ROWS_PER_FRAME * first_needed
        last_end = first_end + MEL_ROWS_PER_FRAME * (self.frames - 1 - first_needed)
        stream = self.models.stream
        if stream is not None:
            assert self._state is not None  # made with the stream, in __init__
            state = self._state
            n = self.frames - first_needed
            lo = last_end - stream.rows_needed(first_needed, n, state)
            self._features.extend(
                stream.embed(self._mel.span(lo, last_end), first_needed, n, state)
            )
        elif first_end == last_end:
            windows = self._mel.span(first_end - EMBEDDING_WINDOW, first_end)[None]
            self._features.extend(self.models.embed(windows))
        else:
            block = self._mel.span(first_end - EMBEDDING_WINDOW, last_end)
            windows = np.lib.stride_tricks.sliding_window_view(block, (EMBEDDING_WINDOW, MEL_BINS))[
                ::MEL_ROWS_PER_FRAME, 0
            ]
            self._features.extend(self.models.embed(windows))
        self._embedded = self.frames


def _first_mel_row(frame: int) -> int:
    """Ring row of a frame's first mel row: 76 for frame 0 (5 rows), 81 + 8 (k - 1) after."""
    if frame == 0:
        return MEL_START_ROWS
    return MEL_START_ROWS + FIRST_FRAME_MEL_ROWS + MEL_ROWS_PER_FRAME * (frame - 1)
