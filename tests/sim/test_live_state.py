"""The live view says what the device is doing with a wake: listening for a request and for how
much longer, a request heard, and why the last one was kept or discarded."""

from __future__ import annotations

from rich.console import Console

from device.speaker import Speaker
from sim.commands._live import DISCARD_MEANINGS, LiveView, end_line
from tests.device.test_speaker import ScriptedVad, ScriptedWake, frames


def rendered(view: LiveView, speaker: Speaker) -> str:
    console = Console(record=True, width=120)
    console.print(view._render(speaker))
    return console.export_text()


def test_after_a_wake_the_view_counts_down_the_wait_then_hears_the_request() -> None:
    # The wake at 10; nothing until a request at 40-45.
    speaker = Speaker(ScriptedWake({10}), ScriptedVad(set(range(40, 46))))
    view = LiveView(Console(record=True, width=120), threshold=0.5)
    for frame in frames(21):
        speaker.process(frame)
    # 10 frames (0.8 s) of the 5 s wait have passed (63 frames: 5.04 s).
    assert "listening for a request, 4.2 s left" in rendered(view, speaker)
    for frame in frames(43)[21:]:
        speaker.process(frame)
    text = rendered(view, speaker)
    assert "request heard" in text and "listening for a request" not in text


def test_the_last_decision_says_what_happened() -> None:
    kept = {"event": "utterance_end", "reason": "silence", "request_speech_ms": 640, "gap_ms": 2400}
    assert end_line(kept) == (
        "kept (silence): 640 ms of request speech; the 2400 ms pause before it not kept"
    )
    for reason, meaning in DISCARD_MEANINGS.items():
        line = end_line({"event": "discarded", "reason": reason, "request_speech_ms": 0})
        assert line == f"discarded ({reason}: {meaning}): 0 ms of request speech"
    assert end_line({"event": "discarded", "reason": "other"}) == (
        "discarded (other): 0 ms of request speech"
    )
