"""Shared test fixtures: system parts that must exist in CI, and the optional real recordings.

A test that needs a system tool (``age``, ``espeak-ng``, ``paplay``, PortAudio ...) calls
``require_tool``/``require_system``: without the part it skips with a reason on a developer's
machine, and fails when ``KEEPMUM_REQUIRE_SYSTEM=1`` (CI), so that a missing install step can
never pass silently.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# The recordings' names live in sim/research/shared_audio.py, which make_request_sets.py reads too.
from sim.research.shared_audio import MISSED_BY_OPENWAKEWORD as MISSED_BY_OPENWAKEWORD
from sim.research.shared_audio import SHARED_POSITIVES as SHARED_POSITIVES
from wakeword.backend import BACKEND_NAMES, Backend, available_backends

REPO = Path(__file__).resolve().parent.parent
SHARED_AUDIO = REPO.parent / "shared" / "audio"


def require_system(available: bool, what: str) -> None:
    """Skip (developer) or fail (CI, KEEPMUM_REQUIRE_SYSTEM=1) when a system part is missing."""
    if available:
        return
    message = f"needs {what}"
    if os.environ.get("KEEPMUM_REQUIRE_SYSTEM") == "1":
        pytest.fail(f"{message}, which KEEPMUM_REQUIRE_SYSTEM=1 requires", pytrace=False)
    pytest.skip(message)


def require_tool(name: str) -> str:
    """The path of a command-line tool, or skip/fail as :func:`require_system` says."""
    path = shutil.which(name)
    require_system(path is not None, f"the `{name}` command")
    assert path is not None
    return path


@pytest.fixture
def shared_audio() -> Path:
    """``../shared/audio`` beside the checkout; tests using it skip with a reason without it."""
    if not SHARED_AUDIO.is_dir():
        pytest.skip(f"needs the real recordings in {SHARED_AUDIO} (not part of the repository)")
    return SHARED_AUDIO


def backend_or_skip(name: str) -> Backend:
    """An installed wake-word backend by name, or skip: openWakeWord 0.5.1 (``onnx``, the
    reference) cannot be installed on Python 3.12+, and pyopen-wakeword (``tflite``) is part of
    every ``.[test]`` install. Not a system part, so this skips under KEEPMUM_REQUIRE_SYSTEM too."""
    for backend in available_backends():
        if backend.name == name:
            return backend
    pytest.skip(f"the {name} wake-word backend is not installed on this Python")


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each wake-word backend installed here (both on 3.10-3.11 with .[test], tflite on 3.12+)."""
    return backend_or_skip(str(request.param))


REFERENCE_MODELS: dict[str, tuple[str, ...]] = {
    "onnx": ("alexa", "hey_jarvis", "timer"),
    "tflite": ("alexa", "hey_jarvis", "okay_nabu"),
}
"""A mix of built-ins per backend: a verifier model (hey_jarvis on ONNX) and one only it has."""
