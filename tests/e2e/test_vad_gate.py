"""The VAD-gated device (``--vad-gate``) wakes exactly where the ungated device does."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import FIXTURES, fixture_manifest, run_keepmum


def wakes(*args: str | Path, home: Path) -> list[tuple[str, str, float, float]]:
    result = run_keepmum("replay", "--no-store", "--json", *args, home=home)
    assert result.returncode == 0, result
    return [(Path(e["file"]).name, e["model"], e["t"], e["score"]) for e in result.of("wake")]


def test_gated_and_ungated_devices_wake_on_the_same_frames_with_the_same_scores(
    tmp_path: Path,
) -> None:
    clips = [c.path for c in fixture_manifest()] + [FIXTURES / "household.wav"]
    models = [
        "--model",
        "alexa",
        "--model",
        "hey_jarvis",
        "--model",
        "hey_mycroft",
        "--model",
        "hey_rhasspy",
    ]
    ungated = wakes(*models, *clips, home=tmp_path)
    gated = wakes("--vad-gate", *models, *clips, home=tmp_path)
    positives = {c.path.name for c in fixture_manifest(["positive"])}
    assert positives <= {name for name, *_ in ungated}  # the comparison is not vacuous
    assert gated == ungated
