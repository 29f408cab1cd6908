"""Live enrolment for real: ``keepmum member enrol alice --mic`` prompts on stderr, PulseAudio
plays espeak-ng phrases into the null sink ``mic`` (whose monitor is the default source) each time
it says ``listening...``, and the voiceprint it stores files alice's later request under her.

The test reacts to the command's own lines, never to time. It plays a one-word phrase first,
which must be refused as too short and asked again. Needs what tests/e2e/test_listen_mic.py
needs (``pulse_mic``); espeak-ng's en-us+f3 is alice, en+m3 bob (far apart for the model).
"""

from __future__ import annotations

import queue
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO, require_tool
from tests.e2e.conftest import parse_json_lines, start_keepmum
from tests.e2e.test_listen_mic import NULL_SINK, pulse_mic  # noqa: F401 (the fixture)
from tests.e2e.vault_fixtures import init_home, keepmum_ok

pytestmark = pytest.mark.system

LINE_WAIT_S = 60.0
"""Longest wait for the command's next line (a busy CI machine)."""


def _speak(voice: str, text: str, path: Path, lead_s: float = 0.3) -> Path:
    """espeak-ng's speech with ``lead_s`` of silence before it (PulseAudio's stream start-up;
    openWakeWord needs 0.5 s before this wake word)."""
    subprocess.run(
        [require_tool("espeak-ng"), "-v", voice, "-s", "140", "-w", str(path), text], check=True
    )
    audio, rate = sf.read(path, dtype="int16")
    sf.write(path, np.concatenate([np.zeros(int(lead_s * rate), np.int16), audio]), rate)
    return path


class Lines:
    """The process's stderr, line by line, read on a thread (so a test can wait on a line)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stderr is not None
        stream = proc.stderr
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str) -> str:
        """The next line containing ``text`` (fail with everything seen if it never comes)."""
        while True:
            try:
                line = self._queue.get(timeout=LINE_WAIT_S)
            except queue.Empty:
                self.proc.kill()
                pytest.fail(f"no line with {text!r} in {LINE_WAIT_S} s; stderr: {self.seen}")
            if line is None:
                pytest.fail(f"keepmum ended before a line with {text!r}; stderr: {self.seen}")
            self.seen.append(line)
            if text in line:
                return line

    def rest(self) -> list[str]:
        self._thread.join(timeout=LINE_WAIT_S)
        while not self._queue.empty():
            line = self._queue.get()
            if line is not None:
                self.seen.append(line)
        return self.seen


@pytest.mark.usefixtures("pulse_mic")
def test_enrol_from_the_microphone_then_attribute(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pass_args = init_home(home, tmp_path / "pass")
    short = _speak("en-us+f3", "Yes.", tmp_path / "short.wav")
    phrases = [
        _speak("en-us+f3", "Please set a timer for ten minutes.", tmp_path / "p1.wav"),
        _speak("en-us+f3", "What is the weather like tomorrow morning?", tmp_path / "p2.wav"),
    ]
    before = sorted(p.name for p in home.iterdir())
    alice = [a for a in pass_args if a.startswith("alice=")]
    proc = start_keepmum(
        "member", "enrol", "alice", "--mic", "--phrases", "2", "--home", home,
        "--passphrase-file", *alice, "--json",
    )  # fmt: skip
    lines = Lines(proc)
    try:
        lines.wait_for("phrase 1 of 2: say")
        lines.wait_for("listening...")
        subprocess.run(["paplay", f"--device={NULL_SINK}", str(short)], check=True, timeout=60)
        refused = lines.wait_for("say it again")
        assert "too short" in refused and "(try 2 of 3)" in refused
        for n, phrase in enumerate(phrases, start=1):
            lines.wait_for("listening...")
            subprocess.run(["paplay", f"--device={NULL_SINK}", str(phrase)], check=True, timeout=60)
            lines.wait_for("s of speech")
            if n < len(phrases):
                lines.wait_for(f"phrase {n + 1} of 2: say")
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stdout is not None
    events, other = parse_json_lines(proc.stdout.read())
    assert proc.returncode == 0, (events, lines.rest())
    assert other == []
    (enrolled,) = [e for e in events if e["event"] == "voice_enrolled"]
    assert enrolled["member"] == "alice" and enrolled["utterances"] == 2
    assert enrolled["agreement"] > 0.8
    # No file but the vault's own appeared in the home: the phrases were never written down.
    new = {p.name for p in home.iterdir()} - set(before)
    assert all(name.startswith("vault.db") for name in new), new
    listed = keepmum_ok("member", "list", "--home", home, "--json").events
    assert {m["member"]: m["voice_enrolled"] for m in listed} == {"alice": True, "bob": False}

    # bob enrols from files; then each one's request is filed under them.
    bob_files = [
        _speak("en+m3", text, tmp_path / f"bob{i}.wav")
        for i, text in enumerate(["Turn on the radio.", "Call my brother, please.", "Good night."])
    ]
    bob = [a for a in pass_args if a.startswith("bob=")]
    keepmum_ok("member", "enrol", "bob", *bob_files, "--home", home, "--passphrase-file", *bob)
    alice_request = _speak(
        "en-us+f3", "Alexa. Turn off the bedroom lights, please.", tmp_path / "alice_req.wav", 0.5
    )
    bob_request = REPO / "sim" / "data" / "alexa_lights.wav"  # en+m3
    replayed = keepmum_ok("replay", alice_request, bob_request, "--home", home, "--json")
    stored = [e for e in replayed.events if e["event"] == "stored"]
    assert [e["member"] for e in stored] == ["alice", "bob"], replayed.events
