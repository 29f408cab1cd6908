"""The live status view of ``keepmum listen``: state (listening for a request and for how much
longer, request heard), input level, VAD, the room's noise floor, the request being heard
(confirmed speech, ms) and why the last one was kept or discarded, best score per model.

Keys (when stdin is a terminal): ``m`` toggles mute. The view redraws at most 10 times a second
so drawing never competes with the audio for the CPU.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from types import TracebackType
from typing import Any

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.table import Table

from device.audio import Frame
from device.speaker import Speaker
from device.states import Mode

__all__ = ["DISCARD_MEANINGS", "LiveView", "end_line"]

DISCARD_MEANINGS = {
    "no_speech": "nothing was said before the wait ran out",
    "wake_tail": "only the wake word itself was heard",
    "noise": "sound, but no speech long enough to be a request",
    "room_talk": "talk no louder than the room's before the wake word",
    "muted": "muted while awake",
}
"""What each discard reason means, in the live view's words."""


def end_line(event: dict[str, Any]) -> str:
    """The live view's line for how the last utterance ended (an ``utterance_end`` or
    ``discarded`` event's JSON form)."""
    speech = f"{event.get('request_speech_ms', 0)} ms of request speech"
    if event["event"] == "utterance_end":
        pause = event.get("gap_ms", 0)
        kept = f"kept ({event['reason']}): {speech}"
        return f"{kept}; the {pause} ms pause before it not kept" if pause else kept
    meaning = DISCARD_MEANINGS.get(event["reason"])
    why = f"{event['reason']}: {meaning}" if meaning else event["reason"]
    return f"discarded ({why}): {speech}"


class LiveView:
    """A rich Live panel fed once per frame with the speaker's state."""

    def __init__(self, console: Console, threshold: float) -> None:
        self.console = console
        self._threshold = threshold
        self._live = Live(console=console, refresh_per_second=10, transient=False)
        self._last_draw = 0.0
        self._speaker: Speaker | None = None
        self._keys: threading.Thread | None = None
        self._stop = threading.Event()
        self._frames = 0
        self._level_db = -120.0
        self._counts: dict[str, int] = {}
        self._last_end = ""

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        if sys.stdin.isatty():
            self._keys = threading.Thread(target=self._read_keys, daemon=True)
            self._keys.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._live.__exit__(kind, exc, tb)

    def _read_keys(self) -> None:
        import termios
        import tty

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            import select

            while not self._stop.is_set():
                ready, _, _ = select.select([sys.stdin], [], [], 0.2)
                if ready and sys.stdin.read(1).lower() == "m" and self._speaker is not None:
                    self._speaker.request_mute(self._speaker.mode is not Mode.MUTED)
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def update(self, speaker: Speaker, frame: Frame) -> None:
        """Called after every frame; redraws at most every 0.1 s."""
        self._speaker = speaker
        self._frames += 1
        if speaker.mode is not Mode.MUTED:  # a muted frame is not looked at, not even metered
            self._note_level(frame.samples)
        else:
            self._level_db = -120.0
        now = time.monotonic()
        if now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self._live.update(self._render(speaker))

    def count(self, event: dict[str, Any]) -> None:
        """Count an event for the view (wakes, kept, stored, discarded); remember why the last
        utterance was kept or discarded."""
        self._counts[event["event"]] = self._counts.get(event["event"], 0) + 1
        if event["event"] in ("utterance_end", "discarded"):
            self._last_end = end_line(event)

    def _note_level(self, samples: np.ndarray) -> None:
        """Input level of the last frame (dBFS)."""
        rms = float(np.sqrt(np.mean(samples.astype(np.float32) ** 2))) / 32768
        self._level_db = 20 * math.log10(rms) if rms > 0 else -120.0

    def _render(self, speaker: Speaker) -> Table:
        table = Table(show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column()
        mode = speaker.mode
        colour = {"listening": "cyan", "awake": "bold green", "muted": "magenta"}[mode.value]
        table.add_row("state", f"[{colour}]{mode.value}[/]  (m: mute, Ctrl-C: stop)")
        table.add_row("heard", f"{self._frames * 0.08:.1f} s")
        table.add_row("level", f"{self._level_db:6.1f} dBFS")
        table.add_row("vad", "speech" if speaker.last_speech else "-")
        floor = speaker.noise_floor_db
        if floor is not None:
            table.add_row("room", f"noise floor {floor:6.1f} dBFS")
        if mode is Mode.AWAKE:
            confirmed = "confirmed" if speaker.last_confirmed else "-"
            if speaker.request_started:
                heard = "[bold green]request heard[/]"
            else:
                heard = f"[bold]listening for a request[/], {speaker.listen_left_s:.1f} s left"
            table.add_row("request", f"{heard}: {speaker.request_speech_ms} ms ({confirmed})")
        elif self._last_end:
            table.add_row("last", self._last_end)
        c = self._counts
        table.add_row(
            "counts",
            f"wakes {c.get('wake', 0)}  kept {c.get('utterance_end', 0)}  "
            f"stored {c.get('stored', 0)}  discarded {c.get('discarded', 0)}  "
            f"muted {speaker.muted_frames * 0.08:.1f} s",
        )
        for name, score in sorted(speaker.last_scores.items()):
            bar = "#" * int(score * 20)
            mark = "[bold green]" if score >= self._threshold else ""
            table.add_row(name, f"{mark}{score:.2f} {bar}")
        return table
