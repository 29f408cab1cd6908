"""``speaker.late_room_margin_db`` through the real ``keepmum replay``, on audio made here: the
committed espeak-ng "Alexa" (``alexa_then_silence.wav``) in pink room noise at -40 dBFS, then
another espeak-ng phrase (``talk_salt.wav``) 6.5 dB over the room, said either about 1 s into the
wait for a request or about 3 s into it.

- early (under ``LATE_WAIT_FRAMES``, 1.52 s, of the wait), ``room_margin_db`` (4 dB) applies and
  the phrase is a request: kept;
- late, it must stand 8 dB over the room: discarded, nothing kept;
- late and 12 dB over the room, it is a request: kept;
- late, with ``--late-room-margin-db 0``, the 6.5 dB phrase is kept as before the rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.e2e.conftest import FIXTURES, Result, run_keepmum

RATE = 16000
ROOM_DBFS = -40.0
WAKE_AT_S = 3.0
"""The wake word's clip starts here: the room is heard for 3 s before it."""


def with_phrase(path: Path, phrase_at_s: float, over_room_db: float) -> Path:
    """The room (pink, 12 s), the wake word at ``WAKE_AT_S`` and ``talk_salt.wav`` starting
    ``phrase_at_s`` after it, its speech ``over_room_db`` over the room (RMS)."""
    from sim.research.corpus import NoiseStream

    wake, _ = sf.read(FIXTURES / "alexa_then_silence.wav", dtype="float64")
    phrase, _ = sf.read(FIXTURES / "talk_salt.wav", dtype="float64")
    speech = phrase[np.abs(phrase) > 0.01]  # its speech, not its pauses, sets its level
    phrase = phrase / np.sqrt(np.mean(speech**2)) * 10 ** ((ROOM_DBFS + over_room_db) / 20)
    n = 12 * RATE
    audio = NoiseStream("pink", 3).take(n) * 10 ** (ROOM_DBFS / 20)
    start = int(WAKE_AT_S * RATE)
    audio[start : start + len(wake)] += wake
    start = int((WAKE_AT_S + phrase_at_s) * RATE)
    audio[start : start + len(phrase)] += phrase
    sf.write(path, np.clip(audio, -1, 1), RATE, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("late-room")
    return {
        "early": with_phrase(folder / "early.wav", 1.5, 6.5),
        "late": with_phrase(folder / "late.wav", 3.0, 6.5),
        "late_loud": with_phrase(folder / "late_loud.wav", 3.0, 12.0),
    }


def outcomes(result: Result) -> dict[str, str]:
    """Per file: ``kept`` or the discard reason of its one wake."""
    assert result.returncode == 0, str(result)
    ends = [e for e in result.events if e.get("event") in ("utterance_end", "discarded")]
    return {
        Path(e["file"]).stem: "kept" if e["event"] == "utterance_end" else e["reason"] for e in ends
    }


def replay(files: dict[str, Path], tmp: Path, *options: str) -> dict[str, str]:
    args = ("--model", "alexa", "--no-store", "--json", *options)
    return outcomes(run_keepmum("replay", *files.values(), *args, home=tmp))


def test_a_phrase_late_in_the_wait_must_stand_further_over_the_room(
    files: dict[str, Path], tmp_path: Path
) -> None:
    got = replay(files, tmp_path)
    assert got["early"] == got["late_loud"] == "kept", got
    assert got["late"] in ("room_talk", "noise"), got
    assert replay({"late": files["late"]}, tmp_path, "--late-room-margin-db", "0") == {
        "late": "kept"
    }
