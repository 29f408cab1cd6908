"""The real ``keepmum replay`` on human recordings from ``../shared/audio`` (see its MANIFEST.md).

Skipped with a reason where the folder is absent (it is not part of the repository); CI has it.
Every positive in ``wake/`` must wake its model; the clearly negative clips there and the first
200 crowd-sourced "computer" clips must not. Files are replayed many to a command (each event
names its ``file``), so the models load once per run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MISSED_BY_OPENWAKEWORD, SHARED_POSITIVES
from tests.e2e.conftest import Result, run_keepmum

pytestmark = pytest.mark.shared_audio

MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy")
POSITIVES = SHARED_POSITIVES
MODEL_MISSES: dict[str, str] = {
    clip: "openWakeWord 0.5.1's own predict_clip misses it too (the model misses, not the device)"
    for clip in MISSED_BY_OPENWAKEWORD
}
"""Positives the model itself misses: the device must agree with the model and not wake."""
NEGATIVES = (
    "openwakeword/hey_jane.wav",
    "wyoming/computer.wav",
    "wyoming/okay_nabu.wav",
    "wyoming/snowboy.wav",
    "pymicro/computer/computer.wav",
    "pymicro/computer/hey_peppa_pig.wav",
    "pymicro/okay_nabu/1.wav",
    "pymicro/okay_nabu/2.wav",
    "pymicro/okay_nabu/3.wav",
    "mycroft/mycroft.wav",
)
"""Clips MANIFEST.md names as negatives for every built-in model ("mycroft" alone: a near miss)."""
KEYWORD_CLIPS = 200


def wakes_by_file(result: Result, root: Path) -> dict[str, list[dict[str, Any]]]:
    """Wake events per input file, keyed by the path relative to ``root``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for event in result.of("wake"):
        relative = Path(str(event["file"])).resolve().relative_to(root.resolve()).as_posix()
        out.setdefault(relative, []).append(event)
    return out


def replay(files: list[Path], models: tuple[str, ...], home: Path) -> Result:
    model_args = [arg for model in models for arg in ("--model", model)]
    result = run_keepmum("replay", *files, *model_args, "--json", "--no-store", home=home)
    assert result.returncode == 0, str(result)
    assert result.summary["files"] == len(files)
    return result


@pytest.mark.parametrize("model", MODELS)
def test_every_positive_wakes_its_model(shared_audio: Path, tmp_path: Path, model: str) -> None:
    wake_dir = shared_audio / "wake"
    names = POSITIVES[model]
    result = replay([wake_dir / n for n in names], (model,), tmp_path)
    found = wakes_by_file(result, wake_dir)
    for name in names:
        models = [w["model"] for w in found.get(name, [])]
        if name in MODEL_MISSES:
            assert models == [], f"{name}: known model miss now wakes; update MODEL_MISSES"
        else:
            assert models[:1] == [model], f"{name}: no {model} wake\n{result}"


def test_negatives_in_wake_folder_wake_nothing(shared_audio: Path, tmp_path: Path) -> None:
    wake_dir = shared_audio / "wake"
    result = replay([wake_dir / n for n in NEGATIVES], MODELS, tmp_path)
    assert wakes_by_file(result, wake_dir) == {}
    assert result.summary["wakes"] == 0


def test_first_200_computer_clips_give_no_alexa_wake(shared_audio: Path, tmp_path: Path) -> None:
    folder = shared_audio / "keywords" / "computer"
    clips = sorted(folder.glob("*.flac"))[:KEYWORD_CLIPS]
    assert len(clips) == KEYWORD_CLIPS, f"expected {KEYWORD_CLIPS} clips in {folder}"
    result = replay(clips, ("alexa",), tmp_path)
    assert wakes_by_file(result, folder) == {}
    assert result.summary["wakes"] == 0
    assert result.summary["heard_s"] > KEYWORD_CLIPS * 2.0
