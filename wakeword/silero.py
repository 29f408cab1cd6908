"""Silero VAD v6 (``silero_vad_v6.onnx``), as a speech judge.

The model travels with keepmum (``wakeword/data/silero_vad_v6.onnx``, MIT licence beside it): it
is ``silero_vad_16k_op15.onnx`` from the ``silero-vad`` 6.2.3 wheel on PyPI, byte for byte
(SHA-256 :data:`SILERO_SHA256`). keepmum does not depend on that package (it requires torch)
and nothing may be downloaded at run time. Until 2026-11 keepmum ran v4, the copy openWakeWord
0.5.1 ships; on the request sets of ``scripts/make_request_sets.py`` v6 confirms quiet speech
in noise better and background talk less (device/README.md has the measurement).

webrtcvad (``vad.py``) calls much steady noise speech; Silero separates speech from stationary
and fluctuating noise far better, at about 0.12 ms per 32 ms chunk on one core (1.2 ms per frame
judged; v4 took 1.5 ms). The device asks it only while awake (is there a request after the wake
word?), never while listening.

**Stateless per frame.** Silero is an LSTM meant to run over a whole stream. Here each 80 ms
frame is judged from a fresh state over a window of ``context_frames`` frames before it plus the
frame itself, in 512-sample chunks each preceded by the 64 samples before it (as the model
expects), and the frame's probability is the highest of the chunks that overlap it. So a frame's
probability is a function of 320 ms of audio and nothing else: the device (which has only the
utterance buffer's last frames) and ``keepmum far`` (which judges every frame of a file in one
batch) get the same number, and no audio or state outlives an utterance. Measured on the labelled
Cobra sample (``../shared/audio/vad/cobra``): frame accuracy at 0.6 is 0.966 with 3 context
frames and 0.949 with 1 (v4: 0.966 at 0.5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from device.audio import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from keepmum.errors import DetectorError

__all__ = ["CHUNK_SAMPLES", "CONTEXT_FRAMES", "SILERO_SHA256", "SileroVad", "silero_model_path"]

CHUNK_SAMPLES = 512
"""Samples per Silero run (32 ms at 16 kHz: the only size v6 takes)."""
CHUNK_CONTEXT = 64
"""Samples before each chunk that v6 reads with it (its own streaming code carries them)."""
CONTEXT_FRAMES = 3
"""Frames of audio before the judged frame that each judgement sees (240 ms)."""
_STATE_WIDTH = 128


SILERO_SHA256 = "7ed98ddbad84ccac4cd0aeb3099049280713df825c610a8ed34543318f1b2c49"
"""SHA-256 of ``silero_vad/data/silero_vad_16k_op15.onnx`` as the ``silero-vad`` 6.2.3 wheel
ships it."""


def silero_model_path() -> Path:
    """keepmum's copy of Silero VAD v6 (package data; nothing is downloaded)."""
    path = Path(__file__).parent / "data" / "silero_vad_v6.onnx"
    if not path.is_file():
        raise DetectorError(f"{path}: Silero VAD model missing from the keepmum package")
    return path


class SileroVad:
    """Speech probability of an 80 ms frame, from the frame and the frames before it."""

    def __init__(
        self, model_path: Path | None = None, context_frames: int = CONTEXT_FRAMES
    ) -> None:
        import onnxruntime as ort

        path = model_path or silero_model_path()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise DetectorError(f"{path}: cannot load Silero VAD ({exc})") from None
        self.context_frames = context_frames
        self._rate = np.array(SAMPLE_RATE, dtype=np.int64)

    @property
    def window_samples(self) -> int:
        """Samples one judgement reads: the context frames and the frame."""
        return (self.context_frames + 1) * FRAME_SAMPLES

    def probability(self, window: Pcm) -> float:
        """The last frame's speech probability; ``window`` is up to :attr:`window_samples`
        samples ending with that frame (shorter windows are zero-padded in front)."""
        return float(self.probabilities(self._pad(window)[None, :])[0])

    def probabilities(self, windows: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
        """One probability per row of ``windows`` (rows of :attr:`window_samples`), in one
        batched run per chunk."""
        batch = windows.shape[0]
        audio = windows.astype(np.float32) / 32767.0
        # Each chunk is read with the 64 samples before it (zeros before the window's start).
        audio = np.concatenate((np.zeros((batch, CHUNK_CONTEXT), np.float32), audio), axis=1)
        state = np.zeros((2, batch, _STATE_WIDTH), dtype=np.float32)
        chunks = windows.shape[1] // CHUNK_SAMPLES
        # The judged frame is the window's last FRAME_SAMPLES: the chunks from the one holding
        # its first sample on overlap it.
        first_overlapping = (windows.shape[1] - FRAME_SAMPLES) // CHUNK_SAMPLES
        best = np.zeros(batch, dtype=np.float32)
        for k in range(chunks):
            begin = k * CHUNK_SAMPLES
            piece = np.ascontiguousarray(audio[:, begin : begin + CHUNK_CONTEXT + CHUNK_SAMPLES])
            out, state = self._session.run(None, {"input": piece, "state": state, "sr": self._rate})
            if k >= first_overlapping:
                best = np.maximum(best, out[:, 0])
        return best

    def frame_probabilities(self, samples: Pcm) -> npt.NDArray[np.float32]:
        """One probability per 1280-sample frame of ``samples`` (a whole padded input, frame 0
        at sample 0; frames before it count as silence), in batches."""
        n_frames = len(samples) // FRAME_SAMPLES
        padded = np.zeros((n_frames + self.context_frames) * FRAME_SAMPLES, dtype=np.int16)
        padded[self.context_frames * FRAME_SAMPLES :] = samples[: n_frames * FRAME_SAMPLES]
        out = np.zeros(n_frames, dtype=np.float32)
        step = 256
        for first in range(0, n_frames, step):
            last = min(n_frames, first + step)
            windows = np.stack(
                [
                    padded[i * FRAME_SAMPLES : i * FRAME_SAMPLES + self.window_samples]
                    for i in range(first, last)
                ]
            )
            out[first:last] = self.probabilities(windows)
        return out

    def _pad(self, window: Pcm) -> Pcm:
        if len(window) >= self.window_samples:
            return window[-self.window_samples :]
        padded = np.zeros(self.window_samples, dtype=np.int16)
        padded[self.window_samples - len(window) :] = window
        return padded
