"""The live view shows the request decision: the noise floor, the request being heard, and why
the last utterance was kept or discarded."""

from __future__ import annotations

from rich.console import Console

from device.speaker import Speaker
from sim.commands._live import LiveView
from tests.device.test_speaker import ScriptedConfirmer, ScriptedVad, ScriptedWake, frames


def rendered(view: LiveView, speaker: Speaker) -> str:
    console = Console(record=True, width=120)
    console.print(view._render(speaker))
    return console.export_text()


def test_the_view_shows_the_floor_the_request_and_the_last_decision() -> None:
    speaker = Speaker(
        # The wake word 6-9, the wake at 10, speech 12-19 of which 13-15 is confirmed.
        ScriptedWake({10}),
        ScriptedVad(set(range(6, 10)) | set(range(12, 20))),
        confirm=ScriptedConfirmer({13, 14, 15}),
    )
    view = LiveView(Console(record=True, width=120), threshold=0.5)
    for frame in frames(16):
        for event in speaker.process(frame):
            view.count(event.to_json())
    text = rendered(view, speaker)
    assert "noise floor  -60.0 dBFS" in text
    assert "request heard: 240 ms" in text and "awake" in text
    for frame in frames(160)[16:]:  # a short request listens on for speech_timeout_ms
        for event in speaker.process(frame):
            view.count(event.to_json())
    text = rendered(view, speaker)
    assert "listening" in text
    assert "kept (silence): 240 ms of request speech" in text
    view.count({"event": "discarded", "reason": "noise", "request_speech_ms": 80})
    assert "discarded (noise: sound, but no speech long enough to be a request): 80 ms" in (
        rendered(view, speaker)
    )
