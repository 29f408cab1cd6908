"""Which audio of a kept utterance the voice is matched on: the request after the wake word,
unless it is shorter than one of the model's partials; the attributor matches exactly that.

A fake embedder (through ``VoiceMatcher``'s constructor) tells the wake word from the request
by their sample values: the wake word is said by alice (positive samples), the request by bob
(negative samples)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from device.audio import SAMPLE_RATE
from device.utterance import Utterance
from sim.assemble import VoiceAttributor, voice_audio
from wakeword.voice import PARTIAL_S, VoiceMatcher

ALICE = np.array([1.0, 0.0], np.float32)
BOB = np.array([0.0, 1.0], np.float32)
PARTIAL = int(PARTIAL_S * SAMPLE_RATE)


class SignEmbedder:
    """alice's voice if the samples are mostly positive, else bob's; remembers what it heard."""

    def __init__(self) -> None:
        self.heard: list[npt.NDArray[np.int16]] = []

    def embed(self, samples: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
        self.heard.append(samples)
        return ALICE if float(np.mean(samples)) > 0 else BOB


def _utterance(wake: int, request: int) -> Utterance:
    """``wake`` samples of alice's wake word (pre-roll included), then ``request`` of bob's."""
    samples = np.concatenate([np.full(wake, 1000, np.int16), np.full(request, -1000, np.int16)])
    return Utterance(samples, 0.0, 0.0, "alexa", 0.9, "silence", request_offset=wake)


def test_the_voice_is_the_request_after_the_wake_word() -> None:
    u = _utterance(wake=SAMPLE_RATE, request=3 * SAMPLE_RATE)
    assert np.array_equal(voice_audio(u), np.full(3 * SAMPLE_RATE, -1000, np.int16))


def test_a_request_of_exactly_one_partial_is_enough_and_one_sample_less_is_not() -> None:
    assert len(voice_audio(_utterance(wake=8000, request=PARTIAL))) == PARTIAL
    short = _utterance(wake=8000, request=PARTIAL - 1)
    assert len(voice_audio(short)) == 8000 + PARTIAL - 1  # the whole utterance


def test_an_utterance_without_a_known_wake_end_is_matched_whole() -> None:
    u = _utterance(wake=0, request=2 * SAMPLE_RATE)
    assert np.array_equal(voice_audio(u), u.samples)


def test_the_attributor_files_the_request_under_its_speaker_not_the_wake_words() -> None:
    embedder = SignEmbedder()
    matcher = VoiceMatcher({"alice": ALICE, "bob": BOB}, 0.7, embedder)
    attribution = VoiceAttributor(matcher)(_utterance(wake=2 * SAMPLE_RATE, request=PARTIAL))
    assert attribution.member == "bob" and attribution.voice_score == 1.0
    (heard,) = embedder.heard
    assert len(heard) == PARTIAL and (heard == -1000).all()


def test_a_short_request_is_matched_with_its_wake_word() -> None:
    embedder = SignEmbedder()
    matcher = VoiceMatcher({"alice": ALICE, "bob": BOB}, 0.7, embedder)
    # 2 s of alice's wake word outweigh bob's 1 s: the whole utterance was heard.
    attribution = VoiceAttributor(matcher)(_utterance(wake=2 * SAMPLE_RATE, request=SAMPLE_RATE))
    assert attribution.member == "alice"
    assert len(embedder.heard[0]) == 3 * SAMPLE_RATE
