"""``keepmum corpus stream``: every keyword once at its labelled span, the speech fraction asked
for, noise at the SNR asked for, the same bytes for the same seed, and bounded memory.

The clips are made here: "speech" is a buzz whose samples are never zero, so that in a stream
without noise every non-zero sample is speech and every zero is silence.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from device.audio import SAMPLE_RATE
from device.sources import read_audio
from keepmum.errors import AudioInputError, ConfigError
from sim.research import corpus_stream
from sim.research.corpus import NoiseStream, snr_db, to_pcm, trim_silence, write_wav
from sim.research.corpus_stream import (
    StreamSettings,
    labels_path_for,
    make_stream,
    noise_seed,
    plan_stream,
)
from tests.sim.test_corpus_synth import run_cli


def _buzz(rng: np.random.Generator, seconds: float, level: float) -> np.ndarray:
    """Never-zero 'speech': random magnitudes of at least 100 with random signs."""
    n = int(seconds * SAMPLE_RATE)
    magnitude = rng.uniform(100, level, n)
    return (magnitude * rng.choice([-1.0, 1.0], n)).astype(np.int16)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("clips")
    keywords, background = root / "keywords", root / "background"
    (keywords / "nested").mkdir(parents=True)
    background.mkdir()
    rng = np.random.default_rng(0)
    for k in range(6):
        # Keyword clips with silent edges, as recorded clips have; the stream trims them.
        body = _buzz(rng, rng.uniform(0.4, 0.8), 3000)
        clip = np.concatenate((np.zeros(1600, np.int16), body, np.zeros(2400, np.int16)))
        folder = keywords / "nested" if k % 2 else keywords
        write_wav(folder / f"kw{k}.wav", clip)
    (keywords / "labels.jsonl").write_text(json.dumps({"file": "kw0.wav", "text": "alexa"}) + "\n")
    for k in range(3):
        write_wav(background / f"bg{k}.wav", _buzz(rng, rng.uniform(2.0, 3.0), 6000))
    # One background clip in another format and rate: converted at the edge like any input.
    soundfile.write(
        str(background / "bg3.flac"), _buzz(rng, 2.0, 6000).astype(np.float64) / 32768, 22050
    )
    return keywords, background


def _labels(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _stream(path: Path) -> np.ndarray:
    samples, rate = soundfile.read(str(path), dtype="int16")
    assert rate == SAMPLE_RATE and samples.ndim == 1
    return np.asarray(samples)


def _trimmed_keyword(path: Path) -> np.ndarray:
    clip = read_audio(path)
    return clip[trim_silence(clip)]


def test_public_surface_is_declared() -> None:
    for name in corpus_stream.__all__:
        assert hasattr(corpus_stream, name), name


def test_every_keyword_is_placed_once_at_its_span(
    folders: tuple[Path, Path], tmp_path: Path
) -> None:
    keywords, background = folders
    out = tmp_path / "s.wav"
    settings = StreamSettings(hours=0.01, snr_db=float("inf"), noise="none", seed=3, block_s=1.0)
    summary = make_stream(keywords, background, out, settings)
    stream = _stream(out)
    assert len(stream) == round(0.01 * 3600 * SAMPLE_RATE) == round(summary["seconds"] * 16000)

    rows = _labels(labels_path_for(out))
    assert sorted(r["file"] for r in rows) == [
        "kw0.wav",
        "kw2.wav",
        "kw4.wav",
        "nested/kw1.wav",
        "nested/kw3.wav",
        "nested/kw5.wav",
    ]
    assert [r["start_s"] for r in rows] == sorted(r["start_s"] for r in rows)
    assert {r["file"]: r.get("text") for r in rows}["kw0.wav"] == "alexa"
    for row in rows:
        start = round(row["start_s"] * SAMPLE_RATE)
        end = round(row["end_s"] * SAMPLE_RATE)
        expected = _trimmed_keyword(keywords / row["file"])
        assert np.array_equal(stream[start:end], expected), row["file"]
        # Silence on both sides: the keyword is not run into its neighbours.
        assert stream[start - 1] == 0 and stream[end] == 0

    # 20 % speech: without noise, speech is exactly the non-zero samples.
    fraction = np.count_nonzero(stream) / len(stream)
    assert fraction == pytest.approx(0.2, abs=0.002)
    assert summary["speech_fraction"] == pytest.approx(0.2, abs=1e-4)


def test_noise_is_added_at_the_snr_and_can_be_rebuilt_from_the_seed(
    folders: tuple[Path, Path], tmp_path: Path
) -> None:
    keywords, background = folders
    out = tmp_path / "noisy.wav"
    settings = StreamSettings(hours=0.01, snr_db=10.0, noise="pink", seed=5, block_s=1.3)
    summary = make_stream(keywords, background, out, settings)
    stream = _stream(out).astype(np.float64)
    noise = summary["noise_rms"] * NoiseStream("pink", noise_seed(5)).take(len(stream))
    for row in _labels(labels_path_for(out)):
        start = round(row["start_s"] * SAMPLE_RATE)
        end = round(row["end_s"] * SAMPLE_RATE)
        keyword = _trimmed_keyword(keywords / row["file"]).astype(np.float64)
        # The samples at the span are the keyword plus the noise, to the rounding of int16.
        assert np.array_equal(stream[start:end], to_pcm(keyword + noise[start:end]))
    speech = stream - to_pcm(noise)
    plan = plan_stream(keywords, background, settings)
    voiced = np.zeros(len(stream), dtype=bool)
    for placed in plan.placements:
        voiced[placed.start : placed.start + placed.samples] = True
    measured = snr_db(speech[voiced], noise[voiced])
    assert measured == pytest.approx(10.0, abs=0.5)


def test_same_seed_same_bytes_whatever_the_block_size(
    folders: tuple[Path, Path], tmp_path: Path
) -> None:
    keywords, background = folders
    made = {}
    for name, seed, block_s in (("a", 9, 1.0), ("b", 9, 7.0), ("c", 10, 1.0)):
        out = tmp_path / f"{name}.wav"
        make_stream(keywords, background, out, StreamSettings(0.006, seed=seed, block_s=block_s))
        made[name] = (out.read_bytes(), labels_path_for(out).read_bytes())
    assert made["a"] == made["b"]
    assert made["a"][0] != made["c"][0] and made["a"][1] != made["c"][1]


def test_writing_is_block_by_block_not_the_whole_stream_in_memory(
    folders: tuple[Path, Path], tmp_path: Path
) -> None:
    keywords, background = folders
    # Warm up first: importing scipy and soundfile allocates megabytes once per process.
    make_stream(keywords, background, tmp_path / "warm.wav", StreamSettings(hours=0.006))
    peaks = {}
    for hours in (0.02, 0.08):
        settings = StreamSettings(hours=hours, seed=1, block_s=0.5)
        out = tmp_path / f"{hours}.wav"
        tracemalloc.start()
        try:
            make_stream(keywords, background, out, settings)
            _, peaks[hours] = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert out.stat().st_size == settings.total_samples * 2 + 44
    # Four times the audio, not four times the memory; and far less than the stream itself.
    assert peaks[0.08] < 1.5 * peaks[0.02], peaks
    assert peaks[0.08] < StreamSettings(hours=0.08).total_samples * 2 / 4, peaks


def test_a_stream_too_short_for_its_keywords_is_refused(
    folders: tuple[Path, Path], tmp_path: Path
) -> None:
    keywords, background = folders
    with pytest.raises(ConfigError, match=r"--hours 0\.001: too short for 6 keywords"):
        plan_stream(keywords, background, StreamSettings(hours=0.001))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"hours": 0.0}, "--hours"),
        ({"hours": 0.01, "speech_fraction": 0.95}, "--speech-fraction"),
        ({"hours": 0.01, "snr_db": float("nan")}, "--snr-db"),
        ({"hours": 0.01, "noise": "brown"}, "--noise"),
    ],
)
def test_settings_are_validated(arguments: dict[str, Any], message: str) -> None:
    # At construction: an invalid StreamSettings cannot exist.
    with pytest.raises(ConfigError, match=message):
        StreamSettings(**arguments)


def test_empty_and_silent_folders_are_named(folders: tuple[Path, Path], tmp_path: Path) -> None:
    keywords, background = folders
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AudioInputError, match=r"--background .*empty: no audio files"):
        plan_stream(keywords, empty, StreamSettings(hours=0.01))
    silent = tmp_path / "silent"
    silent.mkdir()
    write_wav(silent / "quiet.wav", np.zeros(16000, dtype=np.int16))
    with pytest.raises(ConfigError, match="every clip is silent"):
        plan_stream(keywords, silent, StreamSettings(hours=0.01))
    with pytest.raises(ConfigError, match="the clip is silent"):
        plan_stream(silent, background, StreamSettings(hours=0.01))


def test_the_command_writes_stream_labels_and_meta(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keywords, background = folders
    out = tmp_path / "cli" / "stream.wav"
    args = ["corpus", "stream", "--keywords", str(keywords), "--background", str(background)]
    code, stdout, err = run_cli(
        [*args, "--hours", "0.01", "--out", str(out), "--snr-db", "5", "--seed", "2", "--json"],
        capsys,
    )
    assert code == 0, err
    (line,) = [json.loads(s) for s in stdout.splitlines()]
    assert line["event"] == "stream" and line["keywords"] == 6 and line["snr_db"] == 5.0
    assert len(_labels(out.with_name("stream.labels.jsonl"))) == 6
    meta = json.loads(out.with_name("stream.meta.json").read_text())
    assert meta["settings"]["seed"] == 2 and meta["summary"]["keywords"] == 6
    assert not list(out.parent.glob("*.partial"))

    code, stdout, err = run_cli(
        [*args, "--hours", "0.0001", "--out", str(tmp_path / "x.wav")], capsys
    )
    assert code == 2 and "too short" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.wav").exists()
    code, _, err = run_cli(
        [
            "corpus",
            "stream",
            "--keywords",
            str(tmp_path / "nope"),
            "--background",
            str(background),
            "--hours",
            "0.01",
            "--out",
            str(tmp_path / "y.wav"),
        ],
        capsys,
    )
    assert code == 2 and "nope: no such folder" in err and "Traceback" not in err
