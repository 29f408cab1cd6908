"""Silero VAD (``silero_vad.onnx``, v4, the copy openWakeWord 0.5.1 ships), as a speech judge.

The model travels with keepmum (``wakeword/data/silero_vad.onnx``, MIT licence beside it),
because pyopen-wakeword, the backend on Python 3.12+, ships no VAD model and nothing may be
downloaded at run time. It is byte-for-byte openWakeWord 0.5.1's file (SHA-256
:data:`SILERO_SHA256`; a test compares it wherever openwakeword is installed), so the request
decision is the same on every Python.

webrtcvad (``vad.py``) calls much steady noise speech; Silero separates speech from stationary
and fluctuating noise far better, at about 0.17 ms per 40 ms chunk on one core. The device asks
it only while awake (is there a request after the wake word?), never while listening.

**Stateless per frame.** Silero is an LSTM meant to run over a whole stream. Here each 80 ms
frame is judged from a fresh state over a window of ``context_frames`` frames before it plus the
frame itself, in 640-sample chunks (as openWakeWord runs it), and the frame's probability is the
higher of its own two chunks. So a frame's probability is a function of 320 ms of audio and
nothing else: the device (which has only the utterance buffer's last frames) and ``keepmum far``
(which judges every frame of a file in one batch) get the same number, and no audio or state
outlives an utterance. Measured on the labelled Cobra sample (``../shared/audio/vad/cobra``):
frame accuracy at 0.5 is 0.966 with 3 context frames, the same as one continuous run, and 0.915
with 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from device.audio import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from device.errors import DetectorError

__all__ = ["CHUNK_SAMPLES", "CONTEXT_FRAMES", "SILERO_SHA256", "SileroVad", "silero_model_path"]

CHUNK_SAMPLES = 640
"""Samples per Silero run (40 ms), as openWakeWord feeds it."""
CONTEXT_FRAMES = 3
"""Frames of audio before the judged frame that each judgement sees (240 ms)."""
_STATE_SHAPE = (2, 64)


SILERO_SHA256 = "a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28"
"""SHA-256 of ``silero_vad.onnx`` as openWakeWord 0.5.1's wheel ships it."""


def silero_model_path() -> Path:
    """keepmum's copy of ``silero_vad.onnx`` (package data; nothing is downloaded)."""
    path = Path(__file__).parent / "data" / "silero_vad.onnx"
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
        h = np.zeros((_STATE_SHAPE[0], batch, _STATE_SHAPE[1]), dtype=np.float32)
        c = np.zeros_like(h)
        last = np.zeros((2, batch), dtype=np.float32)
        chunks = windows.shape[1] // CHUNK_SAMPLES
        for k in range(chunks):
            piece = np.ascontiguousarray(audio[:, k * CHUNK_SAMPLES : (k + 1) * CHUNK_SAMPLES])
            out, h, c = self._session.run(None, {"input": piece, "h": h, "c": c, "sr": self._rate})
            last[k % 2] = out[:, 0]
        return np.asarray(last.max(axis=0), dtype=np.float32)

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
