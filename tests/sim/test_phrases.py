"""Live enrolment phrases: where a phrase starts and ends, what is refused, and the retries,
on real audio with the real webrtcvad (the microphone is replaced by arrays: the same frames)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import soundfile as sf

from device.arrays import ArraySource
from device.audio import FRAME_SECONDS, SAMPLE_RATE, Frame, Pcm
from device.sources import read_audio
from keepmum import fixtures
from keepmum.errors import ConfigError
from sim.phrases import ENROL_PHRASES, PhraseRules, record_phrase, record_phrases
from wakeword.vad import WebRtcVad

SPEECH = read_audio(fixtures.path("alexa_lights"))  # 3.9 s, espeak-ng with room noise


def silence(seconds: float) -> Pcm:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)


def frames_of(*parts: Pcm) -> Iterator[Frame]:
    return ArraySource(np.concatenate(parts), rate=SAMPLE_RATE).frames()


class Counted:
    """A frame source that counts the frames taken and knows whether it was closed."""

    def __init__(self, samples: Pcm) -> None:
        self.samples = samples
        self.taken = 0
        self.closed = False

    def frames(self) -> Iterator[Frame]:
        try:
            for frame in frames_of(self.samples):
                self.taken += 1
                yield frame
        finally:
            self.closed = True


@pytest.fixture
def vad() -> WebRtcVad:
    return WebRtcVad()


def test_a_phrase_starts_at_speech_and_ends_after_the_silence(vad: WebRtcVad) -> None:
    source = Counted(np.concatenate([silence(2.0), SPEECH, silence(4.0)]))
    phrase = record_phrase(source.frames(), vad.is_speech, PhraseRules(silence_ms=700))
    assert phrase.problem is None
    assert 1.5 <= phrase.speech_s <= len(SPEECH) / SAMPLE_RATE
    kept_s = len(phrase.samples) / SAMPLE_RATE
    # The lead-in silence is not kept (only the pre-roll), nor the closing silence.
    assert phrase.speech_s <= kept_s <= len(SPEECH) / SAMPLE_RATE + 0.3
    # It stopped listening 0.7 s after the speech, not at the end of the input.
    heard_s = source.taken * FRAME_SECONDS
    assert heard_s < 2.0 + len(SPEECH) / SAMPLE_RATE + 1.5
    assert np.abs(phrase.samples).max() > 1000


def test_silence_is_refused_after_the_wait_without_hearing_more(vad: WebRtcVad) -> None:
    source = Counted(silence(12.0))
    phrase = record_phrase(source.frames(), vad.is_speech, PhraseRules(wait_s=3.0))
    assert phrase.problem == "heard no speech in 3 s"
    assert len(phrase.samples) == 0
    assert source.taken == round(3.0 / FRAME_SECONDS)


def test_a_short_phrase_is_refused_as_too_short(vad: WebRtcVad) -> None:
    onset = int(1.0 * SAMPLE_RATE)  # the fixture's speech starts within its first second
    short = SPEECH[onset : onset + int(0.4 * SAMPLE_RATE)]
    phrase = record_phrase(
        frames_of(silence(1.0), short, silence(3.0)), vad.is_speech, PhraseRules()
    )
    assert phrase.problem is not None and phrase.problem.startswith("too short: ")
    assert phrase.speech_s < 1.0
    assert "at least 1 s needed" in phrase.problem


def test_a_phrase_longer_than_the_limit_is_cut(vad: WebRtcVad) -> None:
    phrase = record_phrase(
        frames_of(SPEECH, SPEECH), vad.is_speech, PhraseRules(max_s=2.0, min_speech_s=0.5)
    )
    assert phrase.problem is None
    assert len(phrase.samples) / SAMPLE_RATE == pytest.approx(2.0, abs=FRAME_SECONDS)


def test_input_that_ends_before_speech_is_refused(vad: WebRtcVad) -> None:
    phrase = record_phrase(frames_of(silence(1.0)), vad.is_speech, PhraseRules())
    assert phrase.problem == "the microphone stopped before any speech was heard"


def test_refused_phrases_are_asked_again_and_each_stream_is_closed(vad: WebRtcVad) -> None:
    onset = int(1.0 * SAMPLE_RATE)
    tries = [
        Counted(silence(9.0)),
        Counted(np.concatenate([SPEECH[onset : onset + 4000], silence(2.0)])),
        Counted(np.concatenate([silence(0.5), SPEECH, silence(2.0)])),
    ]
    opened = iter(tries)
    lines: list[str] = []
    phrases = record_phrases(
        1, lambda: next(opened), vad.is_speech, lines.append, PhraseRules(), reset=vad.reset
    )
    assert len(phrases) == 1 and len(phrases[0]) > SAMPLE_RATE
    assert all(t.closed for t in tries)
    assert lines[0] == f'phrase 1 of 1: say, in your usual voice: "{ENROL_PHRASES[0]}"'
    assert lines.count("  listening...") == 3
    assert "heard no speech in 8 s; say it again (try 2 of 3)" in lines[2]
    assert "too short" in lines[4] and "(try 3 of 3)" in lines[4]
    assert lines[-1].startswith("  heard ") and lines[-1].endswith(" s of speech")


def test_a_phrase_refused_every_time_enrols_nothing(vad: WebRtcVad) -> None:
    lines: list[str] = []
    with pytest.raises(ConfigError, match=r"^phrase 2: heard no speech in 8 s \(2 tries\)"):
        record_phrases(
            2,
            lambda: (
                Counted(np.concatenate([silence(0.5), SPEECH, silence(1.0)]))
                if len(lines) < 3
                else Counted(silence(9.0))
            ),
            vad.is_speech,
            lines.append,
            PhraseRules(attempts=2),
        )
    assert lines[3] == f'phrase 2 of 2: say, in your usual voice: "{ENROL_PHRASES[1]}"'


def test_the_fixture_is_what_these_tests_assume() -> None:
    _, rate = sf.read(fixtures.path("alexa_lights"), frames=1)
    assert rate == SAMPLE_RATE and len(SPEECH) / SAMPLE_RATE > 3.5
