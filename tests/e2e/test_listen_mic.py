"""The live microphone for real: PulseAudio plays a fixture into a null sink, ``keepmum listen``
records the sink's monitor through PortAudio and must wake.

Needs what ``.ci/run`` sets up (skipped here without it, a failure in CI): a PulseAudio server, a
null sink named ``mic`` whose monitor is the default source, ``paplay``, and PortAudio seeing the
server (Debian's PortAudio reaches PulseAudio through ALSA's ``pulse``/``default`` devices).
The test waits on facts, not on time: it starts playing once PulseAudio lists keepmum's
recording stream, and plays 1.5 s of silence before the wake word so that the wake-word model's
feature window is past its start-up frames.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import require_system, require_tool
from tests.e2e.conftest import FIXTURES, Result, finish, run_keepmum, start_keepmum

pytestmark = [pytest.mark.system, pytest.mark.sound_device]

NULL_SINK = "mic"
STREAM_WAIT_S = 60.0
"""Longest wait for keepmum to open its recording stream (model loading on a busy CI machine)."""
LISTEN_S = 12
"""How long keepmum listens: the stream's start-up, 1.5 s of silence, a 4 s clip, and margin."""


def pactl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10, check=False)


def input_device_names() -> list[str] | None:
    """Input devices PortAudio sees (None when PortAudio itself cannot be loaded)."""
    try:
        import sounddevice as sd
    except OSError:
        return None
    return [str(d["name"]) for d in sd.query_devices() if int(d["max_input_channels"]) > 0]


@pytest.fixture
def pulse_mic() -> None:
    """PulseAudio with the null sink ``mic`` as the default source's sink, and PortAudio on it."""
    require_tool("pactl")
    require_tool("paplay")
    info = pactl("info")
    require_system(info.returncode == 0, "a running PulseAudio server (`pactl info` failed)")
    sinks = pactl("list", "short", "sinks").stdout.split()
    require_system(NULL_SINK in sinks, f"a PulseAudio sink named {NULL_SINK!r} (see .ci/run)")
    require_system(
        f"Default Source: {NULL_SINK}.monitor" in info.stdout,
        f"PulseAudio's default source to be {NULL_SINK}.monitor (see .ci/run)",
    )
    names = input_device_names()
    require_system(names is not None, "PortAudio (libportaudio2)")
    require_system(bool(names), "PortAudio input devices (ALSA's pulse plugin: libasound2-plugins)")


def recording_streams() -> set[str]:
    """PulseAudio's current recording streams (source outputs), by index."""
    lines = pactl("list", "short", "source-outputs").stdout.splitlines()
    return {line.split()[0] for line in lines if line.strip()}


def wait_for_new_stream(before: set[str], proc: subprocess.Popen[str]) -> None:
    """Block until keepmum has opened its recording stream (or fail if it exited first)."""
    deadline = time.monotonic() + STREAM_WAIT_S
    while time.monotonic() < deadline:
        if recording_streams() - before:
            return
        if proc.poll() is not None:
            pytest.fail(f"keepmum listen exited before recording:\n{finish(proc)}")
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"keepmum listen opened no PulseAudio stream in {STREAM_WAIT_S} s:\n{finish(proc)}")


def with_lead_silence(clip: Path, target: Path, silence_s: float = 1.5) -> Path:
    pcm, rate = sf.read(clip, dtype="int16")
    sf.write(target, np.concatenate([np.zeros(int(silence_s * rate), np.int16), pcm]), rate)
    return target


@pytest.mark.parametrize(
    ("clip_name", "model"), [("alexa_time.wav", "alexa"), ("hey_mycroft_news.wav", "hey_mycroft")]
)
@pytest.mark.usefixtures("pulse_mic")
def test_wake_word_played_into_the_microphone_wakes_the_device(
    tmp_path: Path, keepmum_home: Path, clip_name: str, model: str
) -> None:
    played = with_lead_silence(FIXTURES / clip_name, tmp_path / clip_name)
    before = recording_streams()
    proc = start_keepmum(
        "listen",
        "--duration",
        str(LISTEN_S),
        "--json",
        "--no-store",
        "--model",
        model,
        home=keepmum_home,
    )
    try:
        wait_for_new_stream(before, proc)
        subprocess.run(["paplay", f"--device={NULL_SINK}", str(played)], check=True, timeout=60)
    finally:
        result = finish(proc, timeout=LISTEN_S + 60)
    assert result.returncode == 0, str(result)
    wakes = result.of("wake")
    assert [w["model"] for w in wakes] == [model], str(result)
    assert wakes[0]["score"] >= 0.5
    ends = result.of("utterance_end", model=model)
    assert len(ends) == 1 and ends[0]["duration_s"] >= 1.5, str(result)
    summary = result.summary
    assert summary["heard_s"] == pytest.approx(LISTEN_S, abs=0.5)
    assert summary["stored"] == 0 and summary["uploaded_bytes"] == 0


def test_unknown_input_device_exits_2_listing_the_devices(
    keepmum: Callable[..., Result],
) -> None:
    names = input_device_names()
    require_system(names is not None, "PortAudio (libportaudio2)")
    assert names is not None
    result = keepmum("listen", "--input-device", "nosuchdevice", "--duration", "1", "--no-store")
    assert result.returncode == 2, str(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr:\n{result}"
    assert "nosuchdevice" in lines[0]
    assert "Traceback" not in result.stderr
    for name in names:
        assert name in lines[0], f"the error should list input device {name!r}: {lines[0]}"
    assert result.stdout.strip() == ""


def test_run_keepmum_helper_reports_exit_and_stderr(tmp_path: Path) -> None:
    """The helper itself: a usage error is exit 2 with click's message, and no JSON."""
    result = run_keepmum("listen", "--duration", "not-a-number", home=tmp_path)
    assert result.returncode == 2, str(result)
    assert "not-a-number" in result.stderr
    assert result.events == []
