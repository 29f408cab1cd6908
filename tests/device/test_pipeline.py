"""``run_device``'s stop: a signal handler sets it, and the run ends as if the input ended there."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from device.audio import Frame
from device.events import Event, UtteranceEnd
from device.pipeline import run_device
from device.speaker import Speaker
from device.states import SpeakerSettings
from tests.device.test_speaker import ScriptedVad, ScriptedWake, frames


class ListSource:
    """Frames from a list; sets ``stop`` once frame ``stop_at`` has been delivered."""

    def __init__(self, name: str, n: int, stop: threading.Event, stop_at: int | None) -> None:
        self.name = name
        self._frames = frames(n)
        self._stop = stop
        self._stop_at = stop_at
        self.delivered = 0

    def frames(self) -> Iterator[Frame]:
        for frame in self._frames:
            self.delivered += 1
            if frame.index == self._stop_at:
                self._stop.set()  # as the SIGINT handler does, between two frames
            yield frame


class NoteSink:
    def __init__(self) -> None:
        self.runs: list[tuple[str, float]] = []

    def keep(self, utterance: object) -> tuple[str, str] | None:
        return ("r1", "alice")

    def note_discarded(self, event: object) -> None:
        pass

    def note_run(self, source: str, summary: object) -> None:
        self.runs.append((source, summary.heard_s))  # type: ignore[attr-defined]


def test_stop_decides_the_utterance_in_hand_notes_the_run_and_skips_later_inputs() -> None:
    stop = threading.Event()
    first = ListSource("a", 100, stop, stop_at=15)
    second = ListSource("b", 100, stop, stop_at=None)
    sink = NoteSink()
    events: list[Event] = []
    # No wake-word tail: the five frames of speech after the wake are the request (this test
    # is about stopping, not about the request decision of device/states.py).
    speaker = Speaker(
        ScriptedWake({10}), ScriptedVad(set(range(11, 100))), SpeakerSettings(wake_tail_ms=0)
    )
    summary = run_device([first, second], speaker, events.append, sink, stop=stop)
    assert first.delivered == 16 and second.delivered == 0
    ends = [e for e in events if isinstance(e, UtteranceEnd)]
    assert len(ends) == 1 and ends[0].reason == "end_of_input"
    assert summary.stored == 1 and summary.files == 1
    assert sink.runs == [("a", summary.heard_s)] and summary.heard_s == 16 * 0.08
