"""The live microphone, through sounddevice (PortAudio).

The callback follows PortAudio's real-time rules: it copies the block and puts it on a bounded
queue, nothing else (no allocation beyond the copy, no I/O, nothing that blocks). When the consumer
falls behind the queue is full; the block is then dropped *and counted*, never silently: the count
reaches the run's summary as ``dropped_frames``. PortAudio's own input overflows are counted too.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from device.audio import FRAME_SAMPLES, SAMPLE_RATE, Frame, Pcm
from device.sources import frames_from_chunks
from keepmum.errors import AudioDeviceError

__all__ = ["MicrophoneSource", "input_devices", "resolve_input_device"]


def _sounddevice() -> ModuleType:
    try:
        import sounddevice
    except OSError as exc:  # PortAudio library missing
        raise AudioDeviceError(
            f"PortAudio is not available ({exc}); install libportaudio2"
        ) from None
    return sounddevice


def input_devices(sd: Any) -> list[tuple[int, str]]:
    """(index, name) of every device that can record."""
    return [
        (index, str(info["name"]))
        for index, info in enumerate(sd.query_devices())
        if int(info["max_input_channels"]) > 0
    ]


def resolve_input_device(sd: Any, wanted: str | int | None) -> int | None:
    """An input device index from an index or (part of) a name; None means the default.

    An unknown device is an :class:`AudioDeviceError` that lists the devices there are.
    """
    if wanted is None or wanted == "":
        return None
    devices = input_devices(sd)
    listing = "; ".join(f"{i}: {name}" for i, name in devices) or "none"
    text = str(wanted).strip()
    if text.isdigit():
        index = int(text)
        if any(i == index for i, _ in devices):
            return index
        raise AudioDeviceError(f"input device {text!r} does not exist (input devices: {listing})")
    exact = [i for i, name in devices if name.lower() == text.lower()]
    partial = [i for i, name in devices if text.lower() in name.lower()]
    matches = exact or partial
    if not matches:
        raise AudioDeviceError(f"input device {text!r} does not exist (input devices: {listing})")
    return matches[0]


class MicrophoneSource:
    """Frames from a live input device until ``duration_s`` has been heard or :meth:`stop`."""

    name = "mic"

    def __init__(
        self,
        device: str | int | None = None,
        *,
        duration_s: float | None = None,
        queue_frames: int = 64,
        sounddevice_module: Any = None,
    ) -> None:
        """``queue_frames``: how many 80 ms blocks may wait for the consumer (64 = 5 s) before
        blocks are dropped and counted. ``sounddevice_module`` replaces sounddevice in tests."""
        self._sd = sounddevice_module if sounddevice_module is not None else _sounddevice()
        self.device_index = resolve_input_device(self._sd, device)
        self.duration_s = duration_s
        self._queue: queue.Queue[Pcm] = queue.Queue(maxsize=queue_frames)
        self._stop = threading.Event()
        self.dropped_frames = 0
        self.input_overflows = 0

    def stop(self) -> None:
        """End the input after the block in hand (safe from another thread or a signal handler)."""
        self._stop.set()

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        if status and getattr(status, "input_overflow", False):
            self.input_overflows += 1
        try:
            self._queue.put_nowait(indata[:, 0].copy())
        except queue.Full:
            self.dropped_frames += 1

    def _open_rate(self) -> int:
        """16 kHz if the device takes it, else its default rate (resampled here)."""
        try:
            self._sd.check_input_settings(
                device=self.device_index, samplerate=SAMPLE_RATE, channels=1, dtype="int16"
            )
            return SAMPLE_RATE
        except Exception:  # PortAudioError or ValueError: the device refuses 16 kHz mono
            try:
                info = self._sd.query_devices(self.device_index, "input")
            except Exception as exc:  # "Error querying device -1": there is no input device
                raise AudioDeviceError(
                    f"no microphone: PortAudio finds no input device ({exc}); "
                    "connect one or name it with --input-device"
                ) from None
            return int(info["default_samplerate"])

    def chunks(self) -> Iterator[Pcm]:
        """Blocks of 16 kHz mono int16 as the device delivers them."""
        rate = self._open_rate()
        resampler = None
        if rate != SAMPLE_RATE:
            import soxr

            resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="int16")
        wanted = None if self.duration_s is None else int(self.duration_s * SAMPLE_RATE)
        delivered = 0
        try:
            stream = self._sd.InputStream(
                device=self.device_index,
                samplerate=rate,
                channels=1,
                dtype="int16",
                blocksize=FRAME_SAMPLES * rate // SAMPLE_RATE,
                callback=self._callback,
            )
        except Exception as exc:  # PortAudioError: busy, vanished, no server
            raise AudioDeviceError(
                f"cannot open input device {self.device_index!r}: {exc}"
            ) from None
        started = time.monotonic()
        with stream:
            while not self._stop.is_set() and (wanted is None or delivered < wanted):
                try:
                    block = self._queue.get(timeout=0.5)
                except queue.Empty:
                    if time.monotonic() - started > 5 and delivered == 0:
                        raise AudioDeviceError(
                            f"input device {self.device_index!r} delivered no audio for 5 s"
                        ) from None
                    continue
                if resampler is not None:
                    block = resampler.resample_chunk(block)
                if wanted is not None:
                    block = block[: wanted - delivered]
                delivered += len(block)
                yield np.asarray(block, dtype=np.int16)

    def frames(self) -> Iterator[Frame]:
        """The microphone as 80 ms frames."""
        return frames_from_chunks(self.chunks(), self.name)
