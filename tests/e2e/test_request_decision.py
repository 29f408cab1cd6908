"""The request decision on audio made here (no ../shared needed): the committed espeak-ng
fixtures in generated room noise, through the real ``keepmum replay`` and ``keepmum far
--requests``.

- a wake word followed by nothing but pink or brown room noise (-50 to -30 dBFS) is discarded,
  with a reason, and nothing is stored;
- a wake word and a request in pink noise at 20 dB SNR is kept (espeak-ng's "Alexa" stops
  waking openWakeWord near 10 dB; the real recordings are tested at 10 and 5 dB), ends
  ``silence_ms`` after the request instead of running to ``max_utterance_s``, never before the
  request's last speech, and keeps at most request + pre-roll + ``silence_ms`` + 0.3 s;
- someone else talking in the room right after a request, 25 dB under it, does not hold the
  utterance open (``speaker.request_range_db``), and ``keepmum far`` prices it the same;
- ``keepmum far --requests`` reports, per condition folder, what the replay did.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.e2e.conftest import FIXTURES, Result, run_keepmum
from tests.e2e.vault_fixtures import init_home

RATE = 16000
ROOM_S = 2.0
"""Room noise before the clip (seconds): the device hears the room before anyone speaks."""
AFTER_S = 4.0
"""Room noise after a clip (seconds), as in issue 8's table."""


def pink(n: int, seed: int) -> np.ndarray:
    from sim.research.corpus import NoiseStream

    return NoiseStream("pink", seed).take(n)


def brown(n: int, seed: int) -> np.ndarray:
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    y = lfilter([1.0], [1.0, -(1 - 2 * np.pi * 20 / RATE)], rng.standard_normal(n + 8000))[8000:]
    return np.asarray(y / np.sqrt(np.mean(y**2)))


def in_room(clip: Path, kind: str, dbfs: float, seed: int) -> np.ndarray:
    """The clip with ``ROOM_S`` of noise before and ``AFTER_S`` after, all over the noise."""
    speech, rate = sf.read(clip, dtype="float64")
    assert rate == RATE
    speech = speech * 32768
    body = np.concatenate([np.zeros(int(ROOM_S * RATE)), speech, np.zeros(int(AFTER_S * RATE))])
    bed = (pink if kind == "pink" else brown)(len(body), seed) * 32768 * 10 ** (dbfs / 20)
    return np.clip(np.rint(body + bed), -32768, 32767).astype(np.int16)


def speech_span(clip: Path) -> tuple[float, float, float]:
    """Where the clip's speech starts and ends (Silero on the clean clip, seconds from its
    start) and its RMS level there (dBFS)."""
    from wakeword.silero import SileroVad

    pcm, _ = sf.read(clip, dtype="int16")
    speech = np.flatnonzero(SileroVad().frame_probabilities(pcm) >= 0.5)
    start, end = int(speech[0]) * 1280, (int(speech[-1]) + 1) * 1280
    rms = np.sqrt(np.mean(pcm[start:end].astype(np.float64) ** 2)) / 32768
    return start / RATE, end / RATE, float(20 * np.log10(rms))


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two condition folders: false wakes in room noise, and a request at 20 dB SNR."""
    root = tmp_path_factory.mktemp("requests")
    nothing, request = root / "nothing_noise", root / "request_pink_snr20"
    nothing.mkdir()
    request.mkdir()
    false_wakes = []
    for kind, dbfs in (("pink", -50.0), ("pink", -40.0), ("brown", -40.0), ("brown", -30.0)):
        for clip in ("alexa_then_silence", "hey_jarvis_then_silence"):
            path = nothing / f"{clip}_{kind}_{int(-dbfs)}.wav"
            sf.write(path, in_room(FIXTURES / f"{clip}.wav", kind, dbfs, int(-dbfs)), RATE)
            false_wakes.append(path)
    clip = FIXTURES / "alexa_time.wav"
    path = request / "alexa_time_pink.wav"
    start_s, end_s, speech_dbfs = speech_span(clip)
    sf.write(path, in_room(clip, "pink", speech_dbfs - 20.0, 7), RATE)  # 20 dB SNR
    end_s += ROOM_S
    labels = [{"file": path.name, "request_start_s": ROOM_S + start_s, "request_end_s": end_s}]
    (request / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels))
    return {"root": root, "false_wakes": false_wakes, "request": path, "request_end_s": end_s}


@pytest.fixture(scope="module")
def replay(sets: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Result:
    home = tmp_path_factory.mktemp("home")
    files = [*sets["false_wakes"], sets["request"]]
    args = ("--model", "alexa", "--model", "hey_jarvis")
    result = run_keepmum("replay", *files, *args, "--no-store", "--json", home=home)
    assert result.returncode == 0, str(result)
    return result


def of_file(result: Result, path: Path) -> list[dict[str, Any]]:
    return [e for e in result.events if e.get("file") and Path(e["file"]).name == path.name]


def test_a_wake_word_followed_by_room_noise_is_discarded(
    replay: Result, sets: dict[str, Any]
) -> None:
    for path in sets["false_wakes"]:
        events = of_file(replay, path)
        kinds = [e["event"] for e in events]
        assert kinds == ["wake", "listening", "discarded"], (path.name, events)
        discarded = events[2]
        assert discarded["reason"] in ("no_speech", "wake_tail", "noise", "room_talk"), discarded
        assert discarded["request_speech_ms"] < 160
        # Discarded at the end of the wait for a request (5 s from the wake word's end, after
        # at most its 0.4 s tail) or of the input, not after max_utterance_s of noise.
        assert discarded["t"] - events[0]["t"] <= 5.0 + 0.4 + 0.1


def test_a_request_in_noise_is_kept_whole_and_ends_on_its_speech(
    replay: Result, sets: dict[str, Any]
) -> None:
    events = of_file(replay, sets["request"])
    assert [e["event"] for e in events] == ["wake", "listening", "utterance_end"], events
    wake, _, end = events
    assert end["reason"] == "silence"  # not max_length, although the noise runs on for 4 s
    assert end["t"] >= sets["request_end_s"]  # never cut before the request's last speech
    assert end["request_speech_ms"] >= 480  # "what time is it?", not a blip
    bound = (sets["request_end_s"] - wake["t"]) + 1.0 + 0.7 + 0.3
    assert end["duration_s"] <= bound, (end, bound)


def test_false_wakes_in_noise_write_nothing_to_a_vault(
    sets: dict[str, Any], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    init_home(home, tmp_path, ("alice",))
    models = ("--model", "alexa", "--model", "hey_jarvis")
    result = run_keepmum("replay", *sets["false_wakes"][:4], *models, "--json", home=home)
    assert result.returncode == 0, str(result)
    assert result.summary["wakes"] == result.summary["discarded"] == 4
    assert result.summary["stored"] == 0 and result.summary["kept_s"] == 0
    listed = run_keepmum("vault", "list", "--json", home=home)
    assert listed.returncode == 0 and listed.events == [], str(listed)


def request_then_talk(talk_under_db: float | None) -> np.ndarray:
    """ "Alexa, what time is it?" in quiet pink noise (40 dB under it), then, 0.3 s after the
    request, another person talking in the room ``talk_under_db`` under the request (None: no
    one). The same noise and length either way, so only the talk differs."""
    clip, talk = FIXTURES / "alexa_time.wav", FIXTURES / "talk_cat.wav"
    _, request_end_s, request_dbfs = speech_span(clip)
    talk_start_s, _, talk_dbfs = speech_span(talk)
    request, _ = sf.read(clip, dtype="float64")
    other, _ = sf.read(talk, dtype="float64")
    at = int((ROOM_S + request_end_s + 0.3 - talk_start_s) * RATE)
    body = np.zeros(at + len(other) + 2 * RATE)
    body[int(ROOM_S * RATE) : int(ROOM_S * RATE) + len(request)] = request
    if talk_under_db is not None:
        body[at : at + len(other)] += other * 10 ** (
            (request_dbfs - talk_under_db - talk_dbfs) / 20
        )
    bed = pink(len(body), 11) * 10 ** ((request_dbfs - 40.0) / 20)
    return np.clip(np.rint((body + bed) * 32768), -32768, 32767).astype(np.int16)


def test_talk_in_the_room_after_a_request_does_not_hold_it_open(tmp_path: Path) -> None:
    """Someone else talking 25 dB under the request, right after it (speech to Silero, well over
    the quiet room), is not the talker: the utterance ends as it does with no one talking
    (speaker.request_range_db). With the rule off (0), the same talk holds it open. keepmum far
    prices each file as the device keeps it (frame levels in its cache)."""
    folder = tmp_path / "request_then_talk"
    folder.mkdir()
    files = {"alone": None, "talk": 25.0}
    for name, under in files.items():
        sf.write(folder / f"{name}.wav", request_then_talk(under), RATE)
    ends: dict[str, dict[str, dict[str, Any]]] = {}
    for rule in ("20", "0"):
        result = run_keepmum(
            "replay", *(folder / f"{n}.wav" for n in files), "--model", "alexa",
            "--request-range-db", rule, "--no-store", "--json", home=tmp_path / "home",
        )  # fmt: skip
        assert result.returncode == 0, str(result)
        ends[rule] = {}
        for name in files:
            events = of_file(result, folder / f"{name}.wav")
            assert [e["event"] for e in events] == ["wake", "listening", "utterance_end"], events
            ends[rule][name] = events[2]
    assert ends["20"]["talk"]["t"] == ends["20"]["alone"]["t"]
    assert ends["20"]["talk"]["request_speech_ms"] == ends["20"]["alone"]["request_speech_ms"]
    # The rule may trim a request's own soft ending in a quiet room, never the request.
    _, request_end_s, _ = speech_span(FIXTURES / "alexa_time.wav")
    assert ends["20"]["alone"]["t"] >= ROOM_S + request_end_s + 0.3
    assert ends["0"]["talk"]["t"] >= ends["0"]["alone"]["t"] + 0.48  # held open by the talk
    assert ends["0"]["talk"]["request_speech_ms"] > ends["0"]["alone"]["request_speech_ms"]

    far = run_keepmum(
        "far", "--requests", folder, "--model", "alexa", "--cache-dir", tmp_path / "cache",
        "--workers", "1", "--json", home=tmp_path / "home",
    )  # fmt: skip
    assert far.returncode == 0, str(far)
    (row,) = far.events
    kept = sum(end["duration_s"] for end in ends["20"].values())
    assert (row["wakes"], row["kept"]) == (2, 2)
    assert row["kept_s"] == pytest.approx(kept, abs=1e-6)


def test_far_requests_reports_what_the_device_did(
    replay: Result, sets: dict[str, Any], tmp_path: Path
) -> None:
    result = run_keepmum(
        "far", "--requests", sets["root"], "--model", "alexa", "--model", "hey_jarvis",
        "--cache-dir", tmp_path / "cache", "--workers", "1", "--json", home=tmp_path / "home",
    )  # fmt: skip
    assert result.returncode == 0, str(result)
    rows = {row["condition"]: row for row in result.events}
    assert set(rows) == {"nothing_noise", "request_pink_snr20"}
    nothing = rows["nothing_noise"]
    replayed = [e for p in sets["false_wakes"] for e in of_file(replay, p)]
    assert nothing["wakes"] == sum(e["event"] == "wake" for e in replayed) == 8
    assert nothing["discarded"] == sum(e["event"] == "discarded" for e in replayed)
    assert nothing["kept"] == 0 and nothing["kept_s"] == 0
    reasons = {}
    for e in replayed:
        if e["event"] == "discarded":
            reasons[e["reason"]] = reasons.get(e["reason"], 0) + 1
    assert nothing["discard_reasons"] == reasons
    request = rows["request_pink_snr20"]
    end = of_file(replay, sets["request"])[-1]
    assert (request["wakes"], request["kept"], request["requests_kept"]) == (1, 1, 1)
    assert request["cut_short"] == 0 and request["over_bound"] == 0
    assert request["kept_s"] == pytest.approx(end["duration_s"], abs=1e-6)


def test_far_requests_pools_builds_of_a_condition_each_with_its_labels(
    sets: dict[str, Any], tmp_path: Path
) -> None:
    """Two builds of the sets (``make_request_sets.py --seed``) hold the same condition and file
    names: each folder's files are judged against its own labels, and a condition is one row."""
    builds = tmp_path / "builds"
    shutil.copytree(sets["root"], builds / "first")
    second = builds / "second"
    shutil.copytree(sets["root"], second)
    labels = second / "request_pink_snr20" / "labels.jsonl"
    row = json.loads(labels.read_text())
    row["request_end_s"] += 60.0  # in this build the request runs on: the utterance is cut short
    labels.write_text(json.dumps(row) + "\n")
    result = run_keepmum(
        "far", "--requests", sets["root"], "--requests", second,
        "--model", "alexa", "--model", "hey_jarvis", "--cases",
        "--cache-dir", tmp_path / "cache", "--workers", "1", "--json", home=tmp_path / "home",
    )  # fmt: skip
    assert result.returncode == 0, str(result)
    assert [r["condition"] for r in result.events] == ["nothing_noise", "request_pink_snr20"]
    nothing, request = result.events
    assert nothing["folders"] == request["folders"] == 2
    assert (nothing["files"], nothing["wakes"], nothing["kept"]) == (16, 16, 0)
    assert (request["files"], request["wakes"], request["kept"]) == (2, 2, 2)
    assert (request["requests"], request["requests_kept"]) == (2, 2)
    assert request["cut_short"] == 1  # the second build's label only
    # --cases names the wake behind it: the second build's file, cut before the label's end.
    assert nothing["cases"] == [] and request["late_wakes"] == 0
    (case,) = request["cases"]
    assert case["what"] == "cut_short" and Path(case["file"]).parent.parent == second
    assert case["end_s"] < case["request_end_s"] == row["request_end_s"]
    # A folder of builds, each of condition folders, is the same as naming each build.
    nested = run_keepmum(
        "far", "--requests", builds, "--model", "alexa", "--model", "hey_jarvis", "--cases",
        "--cache-dir", tmp_path / "cache", "--workers", "1", "--json", home=tmp_path / "home",
    )  # fmt: skip
    assert nested.returncode == 0, str(nested)
    assert [{**e, "cases": len(e["cases"])} for e in nested.events] == [
        {**e, "cases": len(e["cases"])} for e in result.events
    ]


def test_far_takes_the_request_decisions_options_as_replay_does(
    sets: dict[str, Any], tmp_path: Path
) -> None:
    """A researcher compares a rule's settings on the command line: ``--silence-ms 1500`` is the
    same as ``silence_ms = 1500`` in the configuration, and a kept request runs 800 ms longer
    (19 frames of trailing silence instead of 9); a bad value is refused under its option."""
    common = (
        "far", "--requests", sets["root"], "--model", "alexa", "--model", "hey_jarvis",
        "--cache-dir", tmp_path / "cache", "--workers", "1", "--json",
    )  # fmt: skip
    default = run_keepmum(*common, home=tmp_path / "home")
    option = run_keepmum(*common, "--silence-ms", "1500", home=tmp_path / "home")
    config = tmp_path / "longer.toml"
    config.write_text("[speaker]\nsilence_ms = 1500\n")
    from_file = run_keepmum(*common, "--config", config, home=tmp_path / "home")
    for result in (default, option, from_file):
        assert result.returncode == 0, str(result)
    assert option.events == from_file.events
    rows = {row["condition"]: row for row in option.events}
    before = {row["condition"]: row for row in default.events}
    request = rows["request_pink_snr20"]
    assert request["kept"] == before["request_pink_snr20"]["kept"] == 1
    assert request["kept_s"] == pytest.approx(before["request_pink_snr20"]["kept_s"] + 0.8)
    assert rows["nothing_noise"]["discarded"] == before["nothing_noise"]["discarded"]
    bad = run_keepmum(*common, "--silence-ms", "5", home=tmp_path / "home")
    assert bad.returncode == 2, str(bad)
    assert "--silence-ms 5" in bad.stderr and "speaker.silence_ms" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_far_cases_is_refused_without_requests(tmp_path: Path) -> None:
    result = run_keepmum("far", "--positives", FIXTURES, "--cases", home=tmp_path / "home")
    assert result.returncode == 2
    assert "--cases" in result.stderr and "--requests" in result.stderr


def test_far_requests_refuses_a_missing_folder(tmp_path: Path) -> None:
    result = run_keepmum("far", "--requests", tmp_path / "nope", home=tmp_path / "home")
    assert result.returncode == 2
    assert "--requests" in result.stderr and "nope" in result.stderr


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--silero-threshold", "1.5", "vad.silero_threshold"),
        ("--noise-margin-db", "-3", "vad.noise_margin_db"),
        ("--wake-tail-ms", "5000", "speaker.wake_tail_ms"),
        ("--min-speech-ms", "-80", "speaker.min_speech_ms"),
        ("--speech-window-ms", "80", "speaker.speech_window_ms"),
        ("--request-range-db", "121", "speaker.request_range_db"),
        ("--room-margin-db", "-1", "speaker.room_margin_db"),
        ("--loud-margin-db", "-1", "vad.loud_margin_db"),
        ("--loud-silero-threshold", "2", "vad.loud_silero_threshold"),
    ],
)
def test_request_settings_out_of_range_are_refused(
    option: str, value: str, named: str, tmp_path: Path
) -> None:
    clip = FIXTURES / "alexa_time.wav"
    result = run_keepmum("replay", clip, option, value, "--no-store", home=tmp_path)
    assert result.returncode == 2, str(result)
    assert named in result.stderr and value in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def paused_request(folder: Path, pause_s: float) -> tuple[Path, float]:
    """The wake word, ``pause_s`` of a quiet room (pink, -55 dBFS) from its last speech to the
    request's first, then a request (made from bundled clips); returns the file and how long
    the request's speech lasts (s)."""
    wake_clip, request_clip = FIXTURES / "alexa_then_silence.wav", FIXTURES / "talk_salt.wav"
    _, wake_end, _ = speech_span(wake_clip)
    request_start, request_end, _ = speech_span(request_clip)
    wake, _ = sf.read(wake_clip, dtype="float64")
    request, _ = sf.read(request_clip, dtype="float64")
    pause = np.zeros(int((pause_s - request_start) * RATE))
    body = np.concatenate(
        [np.zeros(int(ROOM_S * RATE)), wake[: int(wake_end * RATE)], pause, request]
    )
    body = np.concatenate([body * 32768, np.zeros(3 * RATE)])
    room = pink(len(body), 3) * 32768 * 10 ** (-55 / 20)
    path = folder / f"alexa_pause_{pause_s}_request.wav"
    sf.write(path, np.clip(np.rint(body + room), -32768, 32767).astype(np.int16), RATE)
    return path, request_end - request_start


def test_a_request_after_a_pause_of_2_5_s_is_kept_without_the_pause(tmp_path: Path) -> None:
    """The wake word, 2.5 s of a quiet room, then a request (made here from bundled clips): the
    device waits for it, keeps the wake word and the request, and not the pause between."""
    path, spoken = paused_request(tmp_path, 2.5)
    result = run_keepmum("replay", path, "--no-store", "--json", home=tmp_path / "home")
    assert result.returncode == 0, str(result)
    ends = result.of("utterance_end")
    assert len(ends) == 1 and not result.of("discarded"), result.events
    end = ends[0]
    assert 2000 <= end["gap_ms"] <= 2600, end
    # Kept: the pre-roll (1 s, the wake word in it), the request and what follows it.
    assert end["duration_s"] <= 1.0 + 0.24 + spoken + 0.7 + 0.3 + 0.16, (end, spoken)
    assert end["duration_s"] >= 1.0 + spoken, (end, spoken)


@pytest.mark.parametrize("pause_s", [1.5, 3.0])
def test_the_stored_record_says_how_long_the_pause_was(pause_s: float, tmp_path: Path) -> None:
    """A request after a pause, stored: the record's ``gap_ms`` (``vault list --json``) is the
    pause that was cut out, within two frames of the real one: the pause less the 240 ms kept
    before the request's first confirmed speech (``REQUEST_LEAD_FRAMES``)."""
    from device.audio import FRAME_SECONDS
    from device.states import REQUEST_LEAD_FRAMES

    home = tmp_path / "home"
    init_home(home, tmp_path, ("alice",))
    path, _ = paused_request(tmp_path, pause_s)
    result = run_keepmum("replay", path, "--json", home=home)
    assert result.returncode == 0, str(result)
    (stored,) = result.of("stored")
    listed = run_keepmum("vault", "list", "--json", home=home)
    assert listed.returncode == 0, str(listed)
    (record,) = listed.events
    assert record["record"] == stored["record"] and record["gap_ms"] == stored["gap_ms"]
    frame_ms = FRAME_SECONDS * 1000
    cut = pause_s * 1000 - REQUEST_LEAD_FRAMES * frame_ms
    assert abs(record["gap_ms"] - cut) <= 2 * frame_ms, (record, cut)
    text = run_keepmum("vault", "list", home=home)
    assert f"gap {record['gap_ms'] / 1000:.2f}s" in text.stdout, text.stdout
