"""``keepmum far``: the device's scores and rules, cached, on a pool or a Dask cluster.

Uses the bundled fixtures in sim/data (espeak-made clips: three "alexa" requests, other wake
words, near misses and talk), so it runs on a fresh clone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from sim.research import far as engine
from wakeword.cache import ScoreCache, setup_id

DATA = Path(__file__).resolve().parents[2] / "sim" / "data"
KEYS = {
    "threshold",
    "frr",
    "fa_per_hour",
    "false_accepts",
    "negative_hours",
    "positives",
    "false_rejects",
    "kept_s_per_hour",
}


def _keepmum(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg-cache")}
    shim = "import sys; from sim.cli import main; main(sys.argv[1:])"
    command = [sys.executable, "-c", shim, *args, "--home", str(tmp_path / "home")]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def _lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, Path]:
    positives, negatives = tmp_path / "pos", tmp_path / "neg"
    positives.mkdir()
    negatives.mkdir()
    for name in ("alexa_lights.wav", "alexa_time.wav"):
        shutil.copy(DATA / name, positives / name)
    for name in (
        "hey_jarvis_kitchen.wav",
        "hey_jarvis_then_silence.wav",
        "near_alex.wav",
        "talk_cat.wav",
    ):
        shutil.copy(DATA / name, negatives / name)
    return positives, negatives


def test_far_prints_one_object_per_threshold_and_writes_csv_and_plot(
    tmp_path: Path, corpus: tuple[Path, Path]
) -> None:
    positives, negatives = corpus
    result = _keepmum(
        tmp_path,
        "far",
        "--positives",
        str(positives),
        "--negatives",
        str(negatives),
        "--model",
        "hey_jarvis",
        "--thresholds",
        "0.25:0.75:0.25",
        "--workers",
        "1",
        "--json",
        "--csv",
        str(tmp_path / "files.csv"),
        "--plot",
        str(tmp_path / "det.png"),
    )
    lines = _lines(result)
    assert [line["threshold"] for line in lines] == [0.25, 0.5, 0.75]
    for line in lines:
        assert line.keys() >= KEYS
        assert line["positives"] == 2 and line["false_rejects"] == 2  # "alexa" is not hey_jarvis
    # Both hey_jarvis clips fire (peaks 0.997) and nothing else does: two false accepts.
    assert [line["false_accepts"] for line in lines] == [2, 2, 2]
    hours = lines[0]["negative_hours"]
    audio_s = sum(sf.info(str(p)).duration for p in negatives.iterdir())  # padding excluded
    assert hours == pytest.approx(audio_s / 3600, abs=1e-4)
    assert lines[0]["fa_per_hour"] == pytest.approx(2 / hours, rel=0.02)  # JSON rounds to 4 dp
    assert lines[0]["kept_s_per_hour"] > 0
    csv_text = (tmp_path / "files.csv").read_text()
    assert csv_text.count("\n") == 1 + 6 and "hey_jarvis_kitchen.wav" in csv_text
    assert (tmp_path / "det.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_folders_of_links_are_read_through_them(tmp_path: Path) -> None:
    # Researchers assemble corpora from links: the builds of the request sets linked into one
    # folder are two folders of one condition, pooled; a linked folder of positives is scored.
    for build in ("a", "b"):
        condition = tmp_path / "builds" / build / "nothing_silence"
        condition.mkdir(parents=True)
        shutil.copy(DATA / "hey_jarvis_then_silence.wav", condition / "clip.wav")
    links = tmp_path / "links"
    links.mkdir()
    for build in ("a", "b"):
        (links / build).symlink_to(tmp_path / "builds" / build)
    common = ("--model", "hey_jarvis", "--workers", "1", "--json")
    (row,) = _lines(_keepmum(tmp_path, "far", "--requests", str(links), *common))
    assert (row["condition"], row["folders"], row["files"]) == ("nothing_silence", 2, 2)
    assert row["wakes"] == 2 and row["discarded"] == 2  # the clip's wake, then silence
    positives = tmp_path / "pos"
    positives.mkdir()
    (positives / "jarvis").symlink_to(tmp_path / "builds" / "a" / "nothing_silence")
    lines = _lines(
        _keepmum(tmp_path, "far", "--positives", str(positives), *common, "--thresholds", "0.5")
    )
    assert lines[0]["positives"] == 1 and lines[0]["false_rejects"] == 0


def test_requests_say_which_models_scored_them_and_whence(tmp_path: Path) -> None:
    # Without --model, --requests scores with the device's configured models (alexa alone by
    # default): the table says so, as every JSON line names the models.
    condition = tmp_path / "nothing_silence"
    condition.mkdir()
    shutil.copy(DATA / "hey_jarvis_then_silence.wav", condition / "clip.wav")
    plain = _keepmum(tmp_path, "far", "--requests", str(condition), "--workers", "1")
    assert plain.returncode == 0, plain.stderr
    title = " ".join(plain.stdout.split())  # rich may wrap the title
    assert "--requests: alexa (the device's configured models; --model NAME for others)" in title
    given = _keepmum(tmp_path, "far", "--requests", str(condition), "--model", "hey_jarvis")
    assert "--requests: hey_jarvis" in given.stdout and "configured models" not in given.stdout


def test_kept_seconds_are_what_the_device_keeps(tmp_path: Path) -> None:
    # The privacy cost of a false accept is the audio the device's replay keeps for it.
    negatives = tmp_path / "neg"
    negatives.mkdir()
    for name in ("hey_jarvis_kitchen.wav", "hey_jarvis_then_silence.wav"):
        shutil.copy(DATA / name, negatives / name)
    [line] = _lines(
        _keepmum(
            tmp_path,
            "far",
            "--negatives",
            str(negatives),
            "--model",
            "hey_jarvis",
            "--thresholds",
            "0.5",
            "--workers",
            "1",
            "--json",
        )
    )
    kept = 0.0
    wakes = 0
    for clip in sorted(negatives.iterdir()):
        events = _lines(
            _keepmum(tmp_path, "replay", str(clip), "--no-store", "--model", "hey_jarvis", "--json")
        )
        summary = [e for e in events if e["event"] == "summary"][-1]
        kept += summary["kept_s"]
        wakes += summary["wakes"]
    assert line["false_accepts"] == wakes == 2
    assert line["kept_s"] == pytest.approx(kept, abs=1e-3)
    assert kept > 0  # one of them is followed by a request the device would keep


def test_second_run_reads_the_cache_and_rescoring_follows_changes(
    tmp_path: Path, corpus: tuple[Path, Path]
) -> None:
    positives, negatives = corpus
    files = [(p, "positive") for p in sorted(positives.iterdir())]
    files += [(p, "negative") for p in sorted(negatives.iterdir())]
    job = engine.ScoreJob(models=("alexa",))
    cache = ScoreCache(tmp_path / "cache", setup_id(job.models, job.pad_s, job.vad))
    first = engine.score_files(files, job, cache=cache)
    assert not any(f.cached for f in first)
    seen: list[bool] = []
    second = engine.score_files(files, job, cache=cache, on_result=lambda f: seen.append(f.cached))
    assert seen == [True] * len(files)
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a.result.scores["alexa"], b.result.scores["alexa"])
        assert np.array_equal(a.result.speech, b.result.speech)
    # A changed file is rescored, the others still come from the cache.
    changed = negatives / "talk_cat.wav"
    samples, rate = sf.read(changed, dtype="int16")
    sf.write(changed, samples[: len(samples) // 2], rate, subtype="PCM_16")
    third = engine.score_files(files, job, cache=cache)
    assert [f.cached for f in third] == [f.path != changed for f in third]
    # A changed setting (another VAD) is another setup: everything is rescored.
    job3 = engine.ScoreJob(models=("alexa",), vad=type(job.vad)(aggressiveness=3))
    other = ScoreCache(tmp_path / "cache", setup_id(job3.models, job3.pad_s, job3.vad))
    assert not any(f.cached for f in engine.score_files(files, job3, cache=other))


def test_process_pool_and_dask_cluster_give_identical_results(
    corpus: tuple[Path, Path],
) -> None:
    distributed = pytest.importorskip("distributed")
    positives, negatives = corpus
    files = [(p, "positive") for p in sorted(positives.iterdir())]
    files += [(p, "negative") for p in sorted(negatives.iterdir())]
    job = engine.ScoreJob(models=("alexa", "hey_jarvis"))
    local = engine.score_files(files, job, workers=1)
    pooled = engine.score_files(files, job, workers=2)
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        dashboard_address=None,
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        clustered = engine.score_files(files, job, scheduler=cluster.scheduler_address)
    for a, b, c in zip(local, pooled, clustered, strict=True):
        assert a.path == b.path == c.path
        for name in ("alexa", "hey_jarvis"):
            assert np.array_equal(a.result.scores[name], b.result.scores[name])
            assert np.array_equal(a.result.scores[name], c.result.scores[name])
        assert np.array_equal(a.result.speech, c.result.speech)
        assert a.result.audio_s == b.result.audio_s == c.result.audio_s


def test_stream_mode_counts_hits_and_false_accepts(tmp_path: Path) -> None:
    clips = [
        sf.read(DATA / n, dtype="int16")[0]
        for n in ("alexa_lights.wav", "talk_cat.wav", "alexa_time.wav", "near_alex.wav")
    ]
    gap = np.zeros(16000, dtype=np.int16)
    pieces, spans, t = [], [], 0.0
    for index, clip in enumerate(clips):
        pieces += [gap, clip]
        t += 1.0
        if index in (0, 2):
            spans.append({"start_s": t, "end_s": t + len(clip) / 16000})
        t += len(clip) / 16000
    stream = tmp_path / "stream.wav"
    sf.write(stream, np.concatenate(pieces), 16000, subtype="PCM_16")
    labels = tmp_path / "stream.labels.jsonl"
    labels.write_text("".join(json.dumps(s) + "\n" for s in spans))
    [line] = _lines(
        _keepmum(
            tmp_path,
            "far",
            "--stream",
            str(stream),
            "--labels",
            str(labels),
            "--model",
            "alexa",
            "--thresholds",
            "0.5",
            "--workers",
            "1",
            "--json",
        )
    )
    assert line["positives"] == 2 and line["false_rejects"] == 0 and line["false_accepts"] == 0
    assert line["negative_hours"] == pytest.approx(t / 3600, abs=1e-4)  # JSON: 4 dp


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--negatives", "/nonexistent/folder"], "/nonexistent/folder"),
        (["--negatives", "{neg}", "--thresholds", "0.5:0.1:0.1"], "--thresholds"),
        (["--negatives", "{neg}", "--model", "alexia"], "alexia"),
        (["--stream", "{neg}/talk_cat.wav"], "--labels"),
        ([], "--positives"),
        # Sweep options are refused with --requests, not silently ignored (no CSV written).
        (["--requests", "{neg}", "--csv", "{neg}/out.csv"], "--csv"),
        (["--requests", "{neg}", "--confidence", "0.9"], "--confidence"),
        (["--requests", "{neg}", "--conservative"], "--conservative"),
        (["--requests", "{neg}", "--thresholds", "0.5"], "--thresholds"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, corpus: tuple[Path, Path], args: list[str], message: str
) -> None:
    _, negatives = corpus
    result = _keepmum(tmp_path, "far", *[a.format(neg=negatives) for a in args], "--json")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    ("lines", "named"),
    [
        # A line for a file that is not there: labels copied from another folder.
        (["talk_cat.wav", "near_alex.wav", "alexa_time.wav"], "alexa_time.wav has a line"),
        # A file with no line would count as a wake followed by nothing.
        (["talk_cat.wav"], "near_alex.wav has no line"),
    ],
)
def test_request_labels_that_do_not_match_the_folder_are_named_before_scoring(
    tmp_path: Path, lines: list[str], named: str
) -> None:
    condition = tmp_path / "request_pink_snr10"
    condition.mkdir()
    for name in ("talk_cat.wav", "near_alex.wav"):
        shutil.copy(DATA / name, condition / name)
    rows = [{"file": f, "request_start_s": 1.0, "request_end_s": 2.0} for f in lines]
    (condition / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _keepmum(tmp_path, "far", "--requests", str(condition), "--json")
    assert result.returncode == 2 and named in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "xdg-cache").exists()  # refused before anything was scored


def test_a_corrupt_file_is_named_and_exits_2(tmp_path: Path) -> None:
    negatives = tmp_path / "neg"
    negatives.mkdir()
    shutil.copy(DATA / "talk_cat.wav", negatives / "talk_cat.wav")
    (negatives / "broken.wav").write_bytes(b"RIFF" + bytes(range(256)) * 8)
    result = _keepmum(tmp_path, "far", "--negatives", str(negatives), "--workers", "2", "--json")
    assert result.returncode == 2
    assert "broken.wav" in result.stderr and "Traceback" not in result.stderr


def test_an_interrupted_run_resumes_where_it_stopped(
    tmp_path: Path, corpus: tuple[Path, Path]
) -> None:
    _, negatives = corpus
    files = [(p, "negative") for p in sorted(negatives.iterdir())]
    job = engine.ScoreJob(models=("alexa",))
    cache = ScoreCache(tmp_path / "cache", setup_id(job.models, job.pad_s, job.vad))
    done: list[Path] = []

    def stop_after_two(scored: engine.ScoredFile) -> None:
        done.append(scored.path)
        if len(done) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.score_files(files, job, cache=cache, on_result=stop_after_two)
    resumed = engine.score_files(files, job, cache=cache)
    assert [f.cached for f in resumed] == [f.path in done for f in resumed]
    assert sum(f.cached for f in resumed) == 2
