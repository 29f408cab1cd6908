"""Shared test fixtures: system parts that must exist in CI, and the optional real recordings.

A test that needs a system tool (``age``, ``espeak-ng``, ``paplay``, PortAudio ...) calls
``require_tool``/``require_system``: without the part it skips with a reason on a developer's
machine, and fails when ``KEEPMUM_REQUIRE_SYSTEM=1`` (CI), so that a missing install step can
never pass silently.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

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


# -- two test processes (pytest-xdist, ``-n 2`` in addopts) -------------------------------------
# Each module runs in one worker (its module- and session-scoped fixtures are built once, as in a
# serial run), and every test on the audio device runs in one worker, one after the other: two
# at once would each hear the other's wake words and recording streams in the one PulseAudio
# sink. The device's tests and the modules with a ``slow`` test go first, so that no long one is
# left to run alone at the end. Only workers collect, so each tells the controller in a file.
SOUND_DEVICE = "sound_device"
"""The marker (pyproject.toml) of a test on the audio device; tests using ``pulse_mic`` are."""
_KINDS_FOLDER = pytest.StashKey[Path]()


def on_the_sound_device(item: pytest.Item) -> bool:
    """Whether a test plays into or records from the audio device."""
    uses_the_mic = "pulse_mic" in getattr(item, "fixturenames", ())
    return uses_the_mic or item.get_closest_marker(SOUND_DEVICE) is not None


def pytest_unconfigure(config: pytest.Config) -> None:
    if _KINDS_FOLDER in config.stash:
        shutil.rmtree(config.stash[_KINDS_FOLDER], ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell each worker (xdist's WorkerController) where to write what it collected; made here,
    in the controller, so that a run in one process (-n 0, mutmut) makes no folder."""
    stash = node.config.stash
    if _KINDS_FOLDER not in stash:
        stash[_KINDS_FOLDER] = Path(tempfile.mkdtemp(prefix="keepmum-test-kinds-"))
    node.workerinput["keepmum_test_kinds"] = str(stash[_KINDS_FOLDER])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return
    kinds = {
        SOUND_DEVICE: [item.nodeid for item in items if on_the_sound_device(item)],
        "slow": [item.nodeid for item in items if item.get_closest_marker("slow")],
    }
    folder = Path(workerinput["keepmum_test_kinds"])
    (folder / f"{workerinput['workerid']}.json").write_text(json.dumps(kinds))


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's scope scheduler with scopes of our own: the audio device's tests, else modules."""
    if config.getvalue("dist") not in ("load", "loadscope"):
        return None  # a --dist asked for explicitly (each, loadfile ...) is as asked
    from xdist.scheduler import LoadScopeScheduling

    class DeviceThenModules(LoadScopeScheduling):  # type: ignore[misc]
        kinds: dict[str, set[str]] | None = None

        def _kind(self, kind: str) -> set[str]:
            if self.kinds is None:  # every worker has collected (and written) by now
                folder = config.stash[_KINDS_FOLDER]
                found = [json.loads(f.read_text()) for f in sorted(folder.iterdir())]
                self.kinds = {
                    k: {n for one in found for n in one[k]} for k in (SOUND_DEVICE, "slow")
                }
            return self.kinds[kind]

        def _split_scope(self, nodeid: str) -> str:
            return SOUND_DEVICE if nodeid in self._kind(SOUND_DEVICE) else nodeid.split("::", 1)[0]

        def _assign_work_unit(self, node: Any) -> None:
            if not getattr(self, "long_ones_first", False):
                slow = {self._split_scope(n) for n in self._kind("slow")}
                for scope in reversed([s for s in self.workqueue if s in slow]):
                    self.workqueue.move_to_end(scope, last=False)
                if SOUND_DEVICE in self.workqueue:
                    self.workqueue.move_to_end(SOUND_DEVICE, last=False)
                self.long_ones_first = True
            super()._assign_work_unit(node)

    return DeviceThenModules(config, log)
