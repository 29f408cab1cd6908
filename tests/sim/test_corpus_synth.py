"""``keepmum corpus synth``: deterministic, writes what its labels say, mixes at the SNR asked.

The real espeak-ng runs where it is installed (``require_tool``); the mixing arithmetic is also
checked with a tone "speaker" passed in, so those checks need no system tool.
"""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from device.audio import SAMPLE_RATE
from keepmum.errors import ConfigError
from sim.research.corpus import snr_db
from sim.research.corpus_synth import LABELS_NAME, SynthSettings, synthesize_corpus
from tests.conftest import require_tool


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``keepmum ARGS`` in-process: (exit status, stdout, stderr)."""
    from sim.cli import main

    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def tone_speaker(text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
    """A stand-in for espeak-ng: a tone whose length and pitch follow the arguments, with
    silent edges like espeak-ng's output."""
    seconds = 0.3 + 0.02 * len(text) * 175 / rate
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tone = 8000 * np.sin(2 * np.pi * (120 + 3 * pitch + 10 * len(voice)) * t)
    return np.concatenate((np.zeros(800), tone, np.zeros(1600)))


def labels(folder: Path) -> list[dict[str, Any]]:
    lines = (folder / LABELS_NAME).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def measured_snrs(folder: Path) -> list[tuple[float, float]]:
    """(asked, measured) SNR of every noisy clip against its clean twin."""
    rows = labels(folder)
    clean = {
        (r["text"], r["voice"], r["rate"], r["pitch"]): r for r in rows if r["noise"] == "none"
    }
    pairs = []
    for row in rows:
        if row["noise"] == "none":
            continue
        twin = clean[(row["text"], row["voice"], row["rate"], row["pitch"])]
        noisy, _ = soundfile.read(str(folder / row["file"]), dtype="int16")
        reference, _ = soundfile.read(str(folder / twin["file"]), dtype="int16")
        start = round(row["speech_start_s"] * SAMPLE_RATE)
        end = round(row["speech_end_s"] * SAMPLE_RATE)
        speech = reference[start:end].astype(np.float64)
        noise = noisy[start:end].astype(np.float64) - speech
        pairs.append((row["snr_db"], snr_db(speech, noise)))
    return pairs


def test_mixing_with_a_tone_speaker_hits_every_snr(tmp_path: Path) -> None:
    settings = SynthSettings(
        texts=("alexa", "hey jarvis"),
        pitches=(30, 70),
        noises=("none", "white", "pink"),
        snrs_db=(20.0, 10.0, 5.0, 0.0),
        seed=4,
    )
    rows = synthesize_corpus(tmp_path, settings, speak=tone_speaker)
    assert len(rows) == 2 * 2 * (1 + 2 * 4)
    pairs = measured_snrs(tmp_path)
    assert len(pairs) == 2 * 2 * 2 * 4
    for asked, measured in pairs:
        assert measured == pytest.approx(asked, abs=0.5)


def test_clip_layout_matches_its_label(tmp_path: Path) -> None:
    settings = SynthSettings(texts=("alexa",), lead_ms=700, tail_ms=300, level_dbfs=-20.0)
    (row,) = synthesize_corpus(tmp_path, settings, speak=tone_speaker)
    samples, rate = soundfile.read(str(tmp_path / row["file"]), dtype="int16")
    assert rate == SAMPLE_RATE
    assert len(samples) == round(row["duration_s"] * SAMPLE_RATE)
    start = round(row["speech_start_s"] * SAMPLE_RATE)
    end = round(row["speech_end_s"] * SAMPLE_RATE)
    assert start == round(0.7 * SAMPLE_RATE) and len(samples) - end == round(0.3 * SAMPLE_RATE)
    # Clean: silence is digital silence, and the phrase is at the level asked for.
    assert not samples[:start].any() and not samples[end:].any()
    level = 20 * np.log10(np.sqrt(np.mean(samples[start:end].astype(float) ** 2)) / 32768)
    assert level == pytest.approx(-20.0, abs=0.1)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("texts", ("",), "--text"),
        ("voices", ("en us",), "--voices"),
        ("rates_wpm", (20,), "--rates"),
        ("pitches", (120,), "--pitches"),
        ("noises", ("brown",), "--noise"),
        ("snrs_db", (-30.0,), "--snr-db"),
    ],
)
def test_settings_are_validated(field: str, value: object, message: str) -> None:
    arguments: dict[str, Any] = {"texts": ("alexa",), field: value}
    # At construction: an invalid SynthSettings cannot exist.
    with pytest.raises(ConfigError, match=message):
        SynthSettings(**arguments)


# --- the real espeak-ng, through the command line --------------------------------------------


SYNTH_ARGS = [
    "--text",
    "alexa",
    "--voices",
    "en-gb,en-us+f3",
    "--rates",
    "140,175",
    "--pitches",
    "40",
    "--noise",
    "none",
    "--noise",
    "pink",
    "--noise",
    "babble",
    "--snr-db",
    "20,5",
]


def test_synth_is_deterministic_and_writes_what_its_labels_say(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tool("espeak-ng")
    first, second = tmp_path / "a", tmp_path / "b"
    code, out, err = run_cli(
        ["corpus", "synth", "--out", str(first), *SYNTH_ARGS, "--seed", "7", "--json"], capsys
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["event"] == "corpus" and summary["files"] == 2 * 2 * 5
    assert (
        run_cli(["corpus", "synth", "--out", str(second), *SYNTH_ARGS, "--seed", "7"], capsys)[0]
        == 0
    )

    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name

    rows = labels(first)
    assert len(rows) == 20 and len(names) == 21  # the clips and labels.jsonl
    expected = set(
        product(
            ["en-gb", "en-us+f3"],
            [140, 175],
            [40],
            [("none", None), ("pink", 20.0), ("pink", 5.0), ("babble", 20.0), ("babble", 5.0)],
        )
    )
    assert {
        (r["voice"], r["rate"], r["pitch"], (r["noise"], r["snr_db"])) for r in rows
    } == expected
    for row in rows:
        info = soundfile.info(str(first / row["file"]))
        assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
        assert info.frames == round(row["duration_s"] * SAMPLE_RATE)
        assert row["text"] == "alexa" and row["seed"] == 7
        assert 0.2 < row["speech_end_s"] - row["speech_start_s"] < 1.5
    # Voices and rates really differ: the clean clips are not copies of each other.
    clean = [(first / r["file"]).read_bytes() for r in rows if r["noise"] == "none"]
    assert len(set(clean)) == 4
    for asked, measured in measured_snrs(first):
        assert measured == pytest.approx(asked, abs=0.5)


def test_another_seed_changes_the_noise_not_the_speech(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tool("espeak-ng")
    args = ["--text", "hey jarvis", "--noise", "none", "--noise", "white", "--snr-db", "10"]
    for seed in ("1", "2"):
        assert (
            run_cli(
                ["corpus", "synth", "--out", str(tmp_path / seed), *args, "--seed", seed], capsys
            )[0]
            == 0
        )
    one, two = labels(tmp_path / "1"), labels(tmp_path / "2")
    clean_1, noisy_1 = ((tmp_path / "1" / r["file"]).read_bytes() for r in one)
    clean_2, noisy_2 = ((tmp_path / "2" / r["file"]).read_bytes() for r in two)
    assert clean_1 == clean_2
    assert noisy_1 != noisy_2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--voices", "zz-nonexistent"], "voice 'zz-nonexistent'"),
        (["--rates", "140,fast"], "--rates"),
        (["--snr-db", "10"], "--snr-db: needs --noise"),
        (["--noise", "pink", "--snr-db", "10,,5"], "--snr-db"),
        (["--noise", "pink", "--snr-db", "-40"], "--snr-db"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    require_tool("espeak-ng")
    code, out, err = run_cli(
        ["corpus", "synth", "--out", str(tmp_path / "c"), "--text", "alexa", *args], capsys
    )
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "c" / LABELS_NAME).exists()


def test_an_existing_corpus_is_not_overwritten_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tool("espeak-ng")
    args = ["corpus", "synth", "--out", str(tmp_path), "--text", "alexa"]
    assert run_cli(args, capsys)[0] == 0
    before = (tmp_path / LABELS_NAME).read_bytes()
    code, _, err = run_cli([*args, "--text", "computer"], capsys)
    assert code == 2 and "already holds a corpus" in err
    assert (tmp_path / LABELS_NAME).read_bytes() == before
    assert run_cli([*args, "--text", "computer", "--force"], capsys)[0] == 0
    assert len(labels(tmp_path)) == 2


def test_missing_espeak_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    code, _, err = run_cli(
        ["corpus", "synth", "--out", str(tmp_path / "c"), "--text", "alexa"], capsys
    )
    assert code == 2
    assert "espeak-ng is not installed" in err and len(err.strip().splitlines()) == 1
