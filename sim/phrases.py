"""Recording enrolment phrases live: prompt, listen until the phrase ends, check it, ask again.

``keepmum member enrol NAME --mic`` records each phrase from its own microphone stream (opened
when the prompt is shown, closed when the phrase ends, so nothing said between phrases is heard).
A phrase starts at the first speech frame (webrtcvad, as the device decides speech) and ends
after the device's ``silence_ms`` of non-speech, or at :attr:`PhraseRules.max_s`. Every limit is
counted in audio heard, not in wall-clock time. The samples live in RAM only; nothing here writes
anything.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from device.audio import FRAME_SECONDS, Frame, Pcm
from device.sources import AudioSource
from keepmum.errors import ConfigError

__all__ = [
    "ENROL_PHRASES",
    "Phrase",
    "PhraseRules",
    "record_phrase",
    "record_phrases",
]

ENROL_PHRASES = (
    "Please set a timer for ten minutes.",
    "What is the weather like tomorrow morning?",
    "Call my sister and tell her I am running late.",
    "Add milk, eggs and bread to the shopping list.",
    "Play some quiet music in the kitchen, please.",
    "Remind me to water the plants on Sunday.",
)
"""What each prompt suggests saying: about three seconds each, as the measured enrolments."""


@dataclass(frozen=True)
class PhraseRules:
    """When a live phrase starts, ends, and is good enough."""

    silence_ms: int = 700
    """Non-speech after speech that ends the phrase (the device's ``speaker.silence_ms``)."""
    wait_s: float = 8.0
    """No speech within this long after the prompt: the phrase is refused as silent."""
    max_s: float = 10.0
    """A phrase is cut here, speech or not."""
    min_speech_s: float = 1.0
    """Less speech than this in a phrase: refused as too short."""
    preroll_ms: int = 240
    """Audio kept from before the first speech frame (webrtcvad is late on a soft onset)."""
    attempts: int = 3
    """Tries per phrase before enrolment gives up."""


@dataclass(frozen=True)
class Phrase:
    """One recorded phrase, or why it was refused."""

    samples: Pcm
    """From just before the first speech to the end (empty when no speech was heard)."""
    speech_s: float
    """How much of it webrtcvad judged speech (seconds)."""
    problem: str | None = None
    """Why it cannot be used (None: it can)."""


def record_phrase(
    frames: Iterable[Frame], is_speech: Callable[[Pcm], bool], rules: PhraseRules
) -> Phrase:
    """Listen to ``frames`` until one phrase has been said and has ended (see the module)."""
    before: deque[Pcm] = deque(maxlen=max(1, round(rules.preroll_ms / 1000 / FRAME_SECONDS)))
    kept: list[Pcm] = []
    heard = speech = trailing = 0
    end_frames = max(1, round(rules.silence_ms / 1000 / FRAME_SECONDS))
    for frame in frames:
        heard += 1
        voiced = is_speech(frame.samples)
        if not kept:
            if voiced:
                kept = [*before, frame.samples]
                speech = 1
            elif heard * FRAME_SECONDS >= rules.wait_s:
                return Phrase(_empty(), 0.0, f"heard no speech in {rules.wait_s:g} s")
            else:
                before.append(frame.samples)
            continue
        kept.append(frame.samples)
        speech += voiced
        trailing = 0 if voiced else trailing + 1
        if trailing >= end_frames or len(kept) * FRAME_SECONDS >= rules.max_s:
            break
    if not kept:
        return Phrase(_empty(), 0.0, "the microphone stopped before any speech was heard")
    samples = np.concatenate(kept[: len(kept) - trailing])  # the closing silence is not voice
    speech_s = speech * FRAME_SECONDS
    if speech_s < rules.min_speech_s:
        problem = f"too short: {speech_s:.1f} s of speech, at least {rules.min_speech_s:g} s needed"
        return Phrase(samples, speech_s, problem)
    return Phrase(samples, speech_s)


def _empty() -> Pcm:
    return np.zeros(0, dtype=np.int16)


def record_phrases(
    count: int,
    open_source: Callable[[], AudioSource],
    is_speech: Callable[[Pcm], bool],
    say: Callable[[str], None],
    rules: PhraseRules,
    *,
    texts: Sequence[str] = ENROL_PHRASES,
    reset: Callable[[], None] | None = None,
) -> list[Pcm]:
    """``count`` usable phrases, each from a fresh source (``open_source()``), prompting through
    ``say`` (a line each: what to say, when it listens, what it heard or why it was refused).
    ``reset`` forgets the VAD's state between phrases. A phrase refused ``rules.attempts`` times
    is a :class:`ConfigError` (exit 2): nothing is enrolled."""
    phrases: list[Pcm] = []
    for n in range(count):
        text = texts[n % len(texts)]
        say(f'phrase {n + 1} of {count}: say, in your usual voice: "{text}"')
        for attempt in range(1, rules.attempts + 1):
            if reset is not None:
                reset()
            frames = open_source().frames()
            try:
                phrase = record_phrase(_announced(frames, say), is_speech, rules)
            finally:
                close = getattr(frames, "close", None)
                if callable(close):
                    close()  # the microphone's stream closes now, not when collected
            if phrase.problem is None:
                say(f"  heard {phrase.speech_s:.1f} s of speech")
                phrases.append(phrase.samples)
                break
            if attempt == rules.attempts:
                raise ConfigError(
                    f"phrase {n + 1}: {phrase.problem} ({rules.attempts} tries); nothing enrolled"
                )
            say(f"  {phrase.problem}; say it again (try {attempt + 1} of {rules.attempts})")
    return phrases


def _announced(frames: Iterable[Frame], say: Callable[[str], None]) -> Iterator[Frame]:
    """``frames``, saying ``listening`` once the first has arrived: the stream is open then, so
    what the member says from that line on is heard."""
    first = True
    for frame in frames:
        if first:
            say("  listening...")
            first = False
        yield frame
