"""``keepmum far --protocol``: each protocol's mixing rule measured back on a mixture it built,
its caching, and its errors. The audio is made here (tones, seeded noise, a synthetic room)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from sim.research.protocols import (
    ProtocolSettings,
    build_mixture,
    collect_inputs,
    openwakeword_snr_db,
    reverberate,
)

RATE = 16000
DATA = Path(__file__).resolve().parents[2] / "sim" / "data"


def _write(path: Path, samples: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(np.rint(samples), -32768, 32767).astype(np.int16), RATE)
    return path


def _keyword(seed: int, seconds: float = 0.7) -> np.ndarray:
    """A tone with one loud 60 ms burst: its peak-frame energy and its mean power disagree, so
    a mixer using the wrong measure lands far from the target SNR."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = 3000 * np.sin(2 * np.pi * (300 + 50 * seed) * t)
    burst = slice(int(0.3 * RATE), int(0.36 * RATE))
    x[burst] *= 6
    return x


def _peak_frame_energy(x: np.ndarray, frame: int = 512) -> float:
    # Written out here, independently of the module: the largest sum of squares over whole
    # 512-sample frames counted from the signal's first sample.
    n = len(x) // frame
    return max(float(np.sum(x[k * frame : (k + 1) * frame] ** 2)) for k in range(n))


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(11)
    keywords = tmp_path / "keywords"
    for i in range(3):
        _write(keywords / f"kw{i}.wav", _keyword(i))
    background = tmp_path / "background"
    _write(background / "quiet.wav", np.zeros(int(2.5 * RATE)))  # silent: the noise shows
    noise = tmp_path / "noise"
    _write(noise / "hiss.wav", rng.standard_normal(int(3.3 * RATE)) * 2000)
    return {"keywords": keywords, "background": background, "noise": noise}


@pytest.mark.parametrize("snr_db", [10.0, 0.0, 20.0])
def test_picovoice_mixture_measures_back_at_its_snr(
    tmp_path: Path, folders: dict[str, Path], snr_db: float
) -> None:
    inputs = collect_inputs([folders["keywords"]], [folders["background"]], [folders["noise"]], [])
    settings = ProtocolSettings("picovoice", snr_db=snr_db, seed=3, hours=30 / 3600)
    mixture = build_mixture(inputs, settings, tmp_path / "cache")
    assert mixture.stream is not None and mixture.labels is not None
    stream, rate = sf.read(str(mixture.stream), dtype="float64")
    assert rate == RATE
    stream *= 32768
    noise, _ = sf.read(str(folders["noise"] / "hiss.wav"), dtype="float64")
    noise = noise / np.max(np.abs(noise))
    # One noise file: the noise bed is that file, peak-normalised, end to end from sample 0.
    bed = np.tile(noise, math.ceil(len(stream) / len(noise)))[: len(stream)]
    spans = [json.loads(line) for line in mixture.labels.read_text().splitlines()]
    assert len(spans) == 3
    in_keyword = np.zeros(len(stream), dtype=bool)
    for span in spans:
        start = round(span["start_s"] * RATE)
        in_keyword[start : start + round((span["end_s"] - span["start_s"]) * RATE)] = True
    # Outside the keywords only (scaled) noise is heard: its gain, by least squares.
    gain = float(
        np.dot(stream[~in_keyword], bed[~in_keyword]) / np.dot(bed[~in_keyword], bed[~in_keyword])
    )
    assert gain > 0
    for span in spans:
        start = round(span["start_s"] * RATE)
        end = round(span["end_s"] * RATE)
        speech = stream[start:end] / gain - bed[start:end]
        measured = 10 * math.log10(_peak_frame_energy(speech) / _peak_frame_energy(bed[start:end]))
        assert abs(measured - snr_db) < 0.5, (span, measured)
        # Not the mean-power SNR: the burst puts that several dB away.
        mean_power = 10 * math.log10(np.mean(speech**2) / np.mean(bed[start:end] ** 2))
        assert abs(mean_power - snr_db) > 2


def test_picovoice_mixture_is_seeded_and_cached(tmp_path: Path, folders: dict[str, Path]) -> None:
    inputs = collect_inputs([folders["keywords"]], [folders["background"]], [folders["noise"]], [])
    settings = ProtocolSettings("picovoice", seed=5, hours=20 / 3600)
    first = build_mixture(inputs, settings, tmp_path / "cache")
    again = build_mixture(inputs, settings, tmp_path / "cache")
    assert not first.cached and again.cached and again.folder == first.folder
    assert first.stream is not None
    other = build_mixture(inputs, settings, tmp_path / "elsewhere")
    assert other.stream is not None
    assert other.stream.read_bytes() == first.stream.read_bytes()
    reseeded = build_mixture(
        inputs, ProtocolSettings("picovoice", seed=6, hours=20 / 3600), tmp_path / "cache"
    )
    assert reseeded.folder != first.folder
    assert reseeded.stream is not None
    assert reseeded.stream.read_bytes() != first.stream.read_bytes()
    # Nothing half-built is left beside the entries.
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        [first.folder.name, reseeded.folder.name]
    )


def _locate(window_head: np.ndarray, noise: np.ndarray) -> int:
    """Where a stretch of the noise file starts (the mixture's head is pure noise)."""
    views = np.lib.stride_tricks.sliding_window_view(noise, len(window_head))
    return int(np.argmin(np.sum((views - window_head) ** 2, axis=1)))


def test_openwakeword_mixture_measures_back_at_its_snr(
    tmp_path: Path, folders: dict[str, Path]
) -> None:
    inputs = collect_inputs([folders["keywords"]], [folders["background"]], [folders["noise"]], [])
    settings = ProtocolSettings("openwakeword", snr_db=10.0, seed=2)
    mixture = build_mixture(inputs, settings, tmp_path / "cache")
    assert len(mixture.positives) == 3
    assert mixture.negatives == (*inputs.background, *inputs.noise)
    noise, _ = sf.read(str(folders["noise"] / "hiss.wav"), dtype="float64")
    for path, source in zip(mixture.positives, sorted(folders["keywords"].iterdir()), strict=True):
        mixed, _ = sf.read(str(path), dtype="float64")
        fg, _ = sf.read(str(source), dtype="float64")
        assert len(mixed) == len(fg) + RATE  # the clip and 1 s of context
        place = round(0.5 * RATE)
        doubled = 2 * mixed  # the rule halves the sum
        offset = _locate(doubled[:4000], noise)
        bg = noise[offset : offset + len(mixed)]
        assert np.max(np.abs(doubled[:place] - bg[:place])) < 1e-3
        speech = doubled - bg
        measured = openwakeword_snr_db(speech, bg)
        assert abs(measured - 10.0) < 0.5
        # The positive sits where the label says: nothing of it before 0.5 s.
        assert np.max(np.abs(speech[: place - 1])) < 1e-3


def test_public_names_exist() -> None:
    import sim.research.phases as phases
    import sim.research.protocols as protocols
    import wakeword.phases as scoring

    for module in (protocols, phases, scoring):
        assert [n for n in module.__all__ if not hasattr(module, n)] == []


def test_reverberation_keeps_alignment_and_mean_amplitude() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal(8000)
    room = np.zeros(2000)
    room[40] = 1.0  # direct path after 40 samples of pre-delay
    room[41:] = rng.standard_normal(1959) * 0.05 * np.exp(-np.arange(1959) / 300)
    wet = reverberate(x, room)
    assert wet.shape == x.shape
    assert np.mean(np.abs(wet)) == pytest.approx(np.mean(np.abs(x)))
    # Aligned on the direct path: the wet signal follows the dry one sample for sample.
    assert np.corrcoef(wet, x)[0, 1] > 0.8
    assert abs(np.corrcoef(wet[40:], x[:-40])[0, 1]) < 0.2  # not delayed by the pre-delay


def test_openwakeword_with_rooms_writes_reverberant_positives(
    tmp_path: Path, folders: dict[str, Path]
) -> None:
    rng = np.random.default_rng(9)
    rooms = tmp_path / "rooms"
    decay = np.exp(-np.arange(4000) / 800)
    _write(
        rooms / "room.wav",
        np.concatenate(([20000.0], rng.standard_normal(3999) * 3000 * decay[1:])),
    )
    dry_inputs = collect_inputs(
        [folders["keywords"]], [folders["background"]], [folders["noise"]], []
    )
    wet_inputs = collect_inputs(
        [folders["keywords"]], [folders["background"]], [folders["noise"]], [rooms]
    )
    settings = ProtocolSettings("openwakeword", seed=2)
    dry = build_mixture(dry_inputs, settings, tmp_path / "cache")
    wet = build_mixture(wet_inputs, settings, tmp_path / "cache")
    assert dry.folder != wet.folder
    labels = [json.loads(line) for line in (wet.folder / "labels.jsonl").read_text().splitlines()]
    assert {row["rir"] for row in labels} == {"room.wav"}
    a, _ = sf.read(str(dry.positives[0]), dtype="float64")
    b, _ = sf.read(str(wet.positives[0]), dtype="float64")
    assert a.shape == b.shape and not np.allclose(a, b, atol=1e-3)


# --- the command ---------------------------------------------------------------------------


def _keepmum(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg-cache")}
    shim = "import sys; from sim.cli import main; main(sys.argv[1:])"
    command = [sys.executable, "-c", shim, *args, "--home", str(tmp_path / "home")]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def real_folders(tmp_path: Path) -> dict[str, Path]:
    """The bundled "alexa" requests as positives, talk as background, made noise."""
    positives, background = tmp_path / "pos", tmp_path / "talk"
    positives.mkdir()
    background.mkdir()
    for name in ("alexa_lights.wav", "alexa_time.wav"):
        shutil.copy(DATA / name, positives / name)
    for name in ("talk_cat.wav", "talk_salt.wav", "near_alex.wav"):
        shutil.copy(DATA / name, background / name)
    rng = np.random.default_rng(1)
    noise = _write(tmp_path / "noise" / "hiss.wav", rng.standard_normal(5 * RATE) * 800).parent
    return {"positives": positives, "background": background, "noise": noise}


def _lines(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("protocol", ["picovoice", "openwakeword"])
def test_far_protocol_reports_its_headline_and_reuses_the_mixture(
    tmp_path: Path, real_folders: dict[str, Path], protocol: str
) -> None:
    args = [
        "far",
        "--protocol",
        protocol,
        "--positives",
        str(real_folders["positives"]),
        "--background",
        str(real_folders["background"]),
        "--noise",
        str(real_folders["noise"]),
        "--thresholds",
        "0.3,0.5,0.9",
        "--seed",
        "4",
        "--workers",
        "1",
        "--json",
    ]
    if protocol == "picovoice":
        args += ["--protocol-hours", "0.02"]
    first = _lines(_keepmum(tmp_path, *args))
    again = _lines(_keepmum(tmp_path, *args))
    points = [line for line in first if "headline" not in line]
    heads = [line for line in first if "headline" in line]
    assert [p["threshold"] for p in points] == [0.3, 0.5, 0.9]
    assert all(p["protocol"] == protocol for p in points)
    assert len(heads) == 1
    head = heads[0]
    target = 0.1 if protocol == "picovoice" else 0.5
    assert head["target_fa_per_hour"] == target
    assert head["headline"] == (
        "miss_rate_at_1_fa_per_10_h" if protocol == "picovoice" else "frr_at_0.5_fa_per_hour"
    )
    # The headline is the sweep's best point at the protocol's target.
    meeting = [p for p in points if p["fa_per_hour"] is not None and p["fa_per_hour"] <= target]
    assert meeting, points  # the fixture is made so that one does
    assert head["value"] == min(p["frr"] for p in meeting)
    assert "kept_s_per_hour" in head
    # ... with far's interval, and "shown" only when the upper bound is within the target:
    # over a mixture of minutes, 0 false alarms never show 0.1 or 0.5 FA/h.
    chosen = next(p for p in points if p["threshold"] == head["threshold"])
    assert (head["value_low"], head["value_high"]) == (chosen["frr_low"], chosen["frr_high"])
    assert head["fa_per_hour_high"] == chosen["fa_per_hour_high"] > target
    assert head["meets_target"] and not head["shown_to_meet_target"]
    assert not head["mixture_cached"]
    again_head = next(line for line in again if "headline" in line)
    assert again_head["mixture_cached"]
    # Same mixture, same scores: the same sweep.
    assert [line for line in again if "headline" not in line] == points
    assert points[0]["positives"] == 2  # picovoice: keywords in the stream; openwakeword: clips


def test_far_protocol_refuses_a_missing_or_empty_folder(
    tmp_path: Path, real_folders: dict[str, Path]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no audio here")
    base = [
        "far",
        "--protocol",
        "picovoice",
        "--positives",
        str(real_folders["positives"]),
        "--background",
        str(real_folders["background"]),
    ]
    for noise, said in ((tmp_path / "nowhere", "no such folder"), (empty, "no audio files")):
        done = _keepmum(tmp_path, *base, "--noise", str(noise))
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and str(noise) in lines[0] and said in lines[0], done.stderr
    missing = _keepmum(tmp_path, *base)
    assert missing.returncode == 2 and "--noise" in missing.stderr
    stray = _keepmum(tmp_path, "far", "--positives", str(real_folders["positives"]), "--noise", "x")
    assert stray.returncode == 2 and "--noise" in stray.stderr and "--protocol" in stray.stderr
