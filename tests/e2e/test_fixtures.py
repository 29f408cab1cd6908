"""The real ``keepmum replay`` on the project's committed espeak-ng fixtures (``sim/data/``).

Every positive clip must wake its model and leave a kept utterance (stored, when a vault exists);
a wake word followed by nothing must be discarded unwritten; negatives and near misses must wake
nothing; a 48 kHz stereo FLAC copy must behave like the 16 kHz mono WAV; and ``--expect`` must
pass on the household scenario and fail, with a readable difference, on a wrong expectation.

Runs are shared per module (one ``keepmum replay`` over many files) to pay the start-up once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import soxr

from tests.e2e.conftest import FIXTURES, Clip, Result, fixture_manifest, run_keepmum

MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy")
"""The built-in wake-word models the fixtures are made for; every run listens with all four,
so a negative must not wake any of them and a positive must wake only its own."""
MODEL_ARGS = [arg for model in MODELS for arg in ("--model", model)]
CLIPS = fixture_manifest()
WAKING = [c for c in CLIPS if c.kind in ("positive", "wake_then_silence")]
POSITIVES = [c for c in CLIPS if c.kind == "positive"]
SILENT = [c for c in CLIPS if c.kind in ("negative", "near_miss")]
HOUSEHOLD = FIXTURES / "household.wav"
HOUSEHOLD_EXPECT = FIXTURES / "household.expect.json"
PASSPHRASE = "correct horse battery staple"


def events_for(result: Result, clip_path: Path) -> list[dict[str, Any]]:
    """The events a multi-file run reported for one file (matched on the file name)."""
    return [e for e in result.events if Path(str(e.get("file", ""))).name == clip_path.name]


def replay(*args: str | Path, home: Path) -> Result:
    result = run_keepmum("replay", *args, "--json", home=home)
    assert result.returncode == 0, str(result)
    assert not result.other_lines, f"non-JSON lines on stdout in --json mode:\n{result}"
    return result


@pytest.fixture(scope="module")
def unstored_run(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """Every fixture clip in one run, four models, no vault."""
    home = tmp_path_factory.mktemp("home-unstored")
    return replay(*(c.path for c in CLIPS), *MODEL_ARGS, "--no-store", home=home)


@pytest.fixture(scope="module")
def vault_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a vault and one member, made by ``keepmum init``."""
    home = tmp_path_factory.mktemp("home-vault")
    secret = home.parent / "passphrase.txt"
    secret.write_text(PASSPHRASE + "\n")
    result = run_keepmum(
        "init", "--member", "alice", "--passphrase-file", f"alice={secret}", "--json", home=home
    )
    assert result.returncode == 0, str(result)
    return home


@pytest.fixture(scope="module")
def stored_run(vault_home: Path) -> Result:
    """The clips that wake something, replayed into a real vault."""
    return replay(*(c.path for c in WAKING), *MODEL_ARGS, home=vault_home)


def test_manifest_matches_committed_files() -> None:
    kinds = {c.kind for c in CLIPS}
    assert kinds == {"positive", "negative", "near_miss", "wake_then_silence"}
    assert {c.model for c in POSITIVES} >= {"alexa", "hey_jarvis", "hey_mycroft"}
    total_bytes = 0
    for clip in [*CLIPS, Clip(HOUSEHOLD, "scenario", "", "", 0.0)]:
        info = sf.info(str(clip.path))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16"), clip.path
        if clip.duration_s:
            assert info.duration == pytest.approx(clip.duration_s, abs=0.01), clip.path
        total_bytes += clip.path.stat().st_size
    assert total_bytes < 4_000_000, f"fixtures grew to {total_bytes} bytes: keep them small"


@pytest.mark.parametrize("clip", POSITIVES, ids=lambda c: c.id)
def test_positive_wakes_its_model_and_keeps_the_utterance(unstored_run: Result, clip: Clip) -> None:
    events = events_for(unstored_run, clip.path)
    wakes = [e for e in events if e["event"] == "wake"]
    assert [w["model"] for w in wakes] == [clip.model], events
    assert wakes[0]["score"] >= 0.5
    ends = [e for e in events if e["event"] == "utterance_end"]
    assert len(ends) == 1, events
    end = ends[0]
    assert end["model"] == clip.model
    assert end["reason"] == "silence"
    assert end["t"] > wakes[0]["t"]
    # The utterance holds the request after the wake word, and no more than the clip (+ padding).
    assert 1.5 <= end["duration_s"] <= clip.duration_s + 1.0, end
    assert not [e for e in events if e["event"] in ("discarded", "stored")], events


@pytest.mark.parametrize(
    "clip", [c for c in CLIPS if c.kind == "wake_then_silence"], ids=lambda c: c.id
)
def test_wake_word_then_nothing_is_discarded(unstored_run: Result, clip: Clip) -> None:
    events = events_for(unstored_run, clip.path)
    assert [(e["event"], e.get("model")) for e in events] == [
        ("wake", clip.model),
        ("listening", clip.model),
        ("discarded", clip.model),
    ], events
    # A false wake: nothing, only the wake word's tail, or unconfirmed noise followed it.
    assert events[2]["reason"] in ("no_speech", "wake_tail", "noise", "room_talk"), events
    assert events[2]["request_speech_ms"] < 160
    assert events[2]["t"] > events[0]["t"]


@pytest.mark.parametrize("clip", SILENT, ids=lambda c: c.id)
def test_negative_and_near_miss_wake_nothing(unstored_run: Result, clip: Clip) -> None:
    events = events_for(unstored_run, clip.path)
    assert events == [], f"{clip.kind} {clip.text!r} woke the device: {events}"


def test_unstored_run_summary_counts_every_file(unstored_run: Result) -> None:
    summary = unstored_run.summary
    assert summary["files"] == len(CLIPS)
    assert summary["wakes"] == len(WAKING)
    assert summary["utterances"] == len(POSITIVES)
    assert summary["discarded"] == len(WAKING) - len(POSITIVES)
    assert summary["stored"] == 0 and summary["stored_s"] == 0
    assert summary["uploaded_bytes"] == 0
    assert summary["heard_s"] >= sum(c.duration_s for c in CLIPS)


def test_kept_utterances_are_stored_and_false_wakes_are_not(stored_run: Result) -> None:
    for clip in WAKING:
        events = events_for(stored_run, clip.path)
        stored = [e for e in events if e["event"] == "stored"]
        if clip.kind == "positive":
            assert len(stored) == 1, events
            assert stored[0]["member"] == "alice"
            assert stored[0]["record"]
            end = next(e for e in events if e["event"] == "utterance_end")
            assert stored[0]["duration_s"] == pytest.approx(end["duration_s"])
        else:
            assert stored == [], f"a wake word followed by nothing was stored: {events}"
    summary = stored_run.summary
    assert summary["stored"] == len(POSITIVES)
    assert summary["discarded"] == len(WAKING) - len(POSITIVES)


def to_flac_48k_stereo(source: Path, target: Path) -> None:
    """The same audio as a 48 kHz two-channel FLAC (how a phone or a DAW would hand it over)."""
    pcm, rate = sf.read(source, dtype="float32")
    upsampled = soxr.resample(pcm, rate, 48000)
    stereo = np.stack([upsampled, upsampled], axis=1)
    sf.write(target, stereo, 48000, format="FLAC", subtype="PCM_16")


def test_48k_stereo_flac_behaves_like_the_16k_wav(
    unstored_run: Result, tmp_path: Path, keepmum: Callable[..., Result]
) -> None:
    chosen = [*WAKING, next(c for c in SILENT if c.kind == "near_miss")]
    copies = []
    for clip in chosen:
        target = tmp_path / f"{clip.id}.flac"
        to_flac_48k_stereo(clip.path, target)
        info = sf.info(str(target))
        assert (info.samplerate, info.channels, info.format) == (48000, 2, "FLAC")
        copies.append(target)
    flac_run = keepmum("replay", *copies, *MODEL_ARGS, "--no-store", "--json")
    assert flac_run.returncode == 0, str(flac_run)
    for clip, copy in zip(chosen, copies, strict=True):
        wav_events = events_for(unstored_run, clip.path)
        flac_events = events_for(flac_run, copy)
        assert [(e["event"], e.get("model"), e.get("reason")) for e in flac_events] == [
            (e["event"], e.get("model"), e.get("reason")) for e in wav_events
        ], (clip.id, wav_events, flac_events)
        for a, b in zip(wav_events, flac_events, strict=True):
            assert abs(a["t"] - b["t"]) <= 0.16, (clip.id, a, b)


def test_expect_passes_on_the_household_scenario(keepmum: Callable[..., Result]) -> None:
    expected = json.loads(HOUSEHOLD_EXPECT.read_text())
    kinds = {e["event"] for e in expected}
    assert {"wake", "utterance_end", "discarded"} <= kinds
    result = keepmum("replay", HOUSEHOLD, "--no-store", "--json", "--expect", HOUSEHOLD_EXPECT)
    assert result.returncode == 0, str(result)
    assert [e["event"] for e in result.events if e["event"] not in ("summary", "listening")] == [
        e["event"] for e in expected
    ]
    # Each wake is followed by the device saying it listens for a request.
    assert len(result.of("listening")) == len(result.of("wake"))


def test_expect_fails_with_a_readable_difference(
    keepmum: Callable[..., Result], tmp_path: Path
) -> None:
    expected = json.loads(HOUSEHOLD_EXPECT.read_text())
    first_wake = next(e for e in expected if e["event"] == "wake")
    actual_t = first_wake["t"]
    first_wake["t"] = round(actual_t + 5.0, 2)
    wrong = tmp_path / "wrong.expect.json"
    wrong.write_text(json.dumps(expected))
    result = keepmum("replay", HOUSEHOLD, "--no-store", "--json", "--expect", wrong)
    assert result.returncode == 1, str(result)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    missing = [line for line in lines if "missing" in line]
    unexpected = [line for line in lines if "unexpected" in line]
    assert len(missing) == 1 and f"{first_wake['t']:.2f}" in missing[0], result.stderr
    assert "wake" in missing[0] and "alexa" in missing[0]
    assert len(unexpected) == 1 and f"{actual_t:.2f}" in unexpected[0], result.stderr
    assert "wrong.expect.json" in result.stderr
