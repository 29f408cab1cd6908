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
