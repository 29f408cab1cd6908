"""The device's wake-word listener on a real model: when it fires, and when it says a model is
over its threshold without firing (what the speaker's "wake word heard again" rule reads)."""

from __future__ import annotations

from pathlib import Path

from device.sources import REPLAY_PAD_S, FileSource
from wakeword.backend import Backend
from wakeword.detector import OpenWakeWordDetector
from wakeword.listener import OpenWakeWordListener
from wakeword.trigger import WakeSettings

DATA = Path(__file__).resolve().parents[2] / "sim" / "data"


def test_over_threshold_is_the_score_against_its_threshold_refractory_or_not(
    backend: Backend,
) -> None:
    settings = WakeSettings(models=("alexa",), refractory_s=30.0)
    listener = OpenWakeWordListener(
        settings, OpenWakeWordDetector(settings.models, backend=backend)
    )
    fired, over, heard = [], [], 0
    for frame in FileSource(DATA / "alexa_time.wav", pad_s=REPLAY_PAD_S).frames():
        hit = listener.listen(frame, gate_open=True)
        score = listener.last_scores["alexa"]
        assert listener.over_threshold == (score >= settings.default_threshold)
        heard += 1
        if hit is not None:
            fired.append(frame.index)
        if listener.over_threshold:
            over.append(frame.index)
    assert heard > 50
    # It fired once; the score stayed over its threshold after that, with no second hit.
    assert len(fired) == 1 and fired[0] in over
    assert [i for i in over if i > fired[0]]
    # With the gate closed nothing is scored, so nothing is over its threshold.
    listener.listen(next(iter(FileSource(DATA / "alexa_time.wav").frames())), gate_open=False)
    assert not listener.over_threshold
    # Its own threshold counts, not the default.
    strict = WakeSettings(models=("alexa",), thresholds=(("alexa", 1.0),))
    listener = OpenWakeWordListener(strict, OpenWakeWordDetector(strict.models, backend=backend))
    for frame in FileSource(DATA / "alexa_time.wav", pad_s=REPLAY_PAD_S).frames():
        listener.listen(frame, gate_open=True)
        assert listener.over_threshold == (listener.last_scores["alexa"] >= 1.0)
