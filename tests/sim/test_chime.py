"""``keepmum listen --chime``: the tone, and that it is asked for on every ``listening`` event
through the player passed in (no sound is played in tests)."""

from __future__ import annotations

import numpy as np

from sim.chime import CHIME_RATE, Chime, chime_tone


def test_the_chime_is_two_short_rising_notes_without_a_click() -> None:
    tone = chime_tone()
    assert tone.dtype == np.float32 and 0.15 <= len(tone) / CHIME_RATE <= 0.2
    assert 0.2 <= float(np.max(np.abs(tone))) <= 0.25  # audible, not startling
    assert abs(float(tone[0])) < 1e-3 and abs(float(tone[-1])) < 1e-3  # faded: no click
    half = len(tone) // 2
    spectrum = [np.abs(np.fft.rfft(part)) for part in (tone[:half], tone[half:])]
    peaks = [float(np.argmax(s)) * CHIME_RATE / half for s in spectrum]
    assert abs(peaks[0] - 880) < 20 and abs(peaks[1] - 1320) < 20  # rising: a fifth up


def test_the_chime_plays_on_listening_and_on_nothing_else() -> None:
    played: list[tuple[int, int]] = []
    chime = Chime(lambda tone, rate: played.append((len(tone), rate)))
    for event in ("wake", "listening", "utterance_end", "discarded", "listening"):
        chime({"event": event, "t": 1.0})
    assert played == [(len(chime_tone()), CHIME_RATE)] * 2
    assert chime.played == 2
