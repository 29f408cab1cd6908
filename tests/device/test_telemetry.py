"""Third-party telemetry is off before onnxruntime loads, whichever keepmum package comes first.

onnxruntime writes its telemetry files at import (a device id under
``~/.cache/Microsoft/DeveloperTools/.onnxruntime/``, a ``.ses`` file in the temp folder), so a
fresh HOME and temp folder that stay empty across the import prove the switch came first. The
network half (a connection about 10 s later) is proven under strace by
tests/e2e/test_no_egress.py.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from device.telemetry import TELEMETRY_OFF


def _run_in_fresh_process(tmp_path: Path, *args: str) -> tuple[str, list[Path]]:
    home = tmp_path / "home"
    tmp = tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    # Not CI either: onnxruntime skips its telemetry by itself when CI is set, which would hide
    # a missing switch in CI runs.
    env = {k: v for k, v in os.environ.items() if k not in {"HOME", "TMPDIR", "CI"}}
    # A user's own setting that would turn telemetry back on must not win.
    env.update(HOME=str(home), TMPDIR=str(tmp), ORT_DISABLE_TELEMETRY="0")
    done = subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), sorted(p for p in (*home.rglob("*"), *tmp.rglob("*")))


@pytest.mark.parametrize("package", ["device", "wakeword", "storage", "sim"])
def test_every_package_switches_telemetry_off_before_onnxruntime(
    tmp_path: Path, package: str
) -> None:
    # openWakeWord is installed on Python 3.10-3.11 only (3.12+ runs pyopen-wakeword's TFLite).
    oww = ", openwakeword.model" if importlib.util.find_spec("openwakeword") else ""
    code = f"import {package}, os, onnxruntime{oww}\nprint(os.environ['ORT_DISABLE_TELEMETRY'])"
    value, written = _run_in_fresh_process(tmp_path, "-c", code)
    assert value == TELEMETRY_OFF["ORT_DISABLE_TELEMETRY"] == "1"
    assert written == [], f"importing onnxruntime after {package} wrote {written}"


def test_spawned_worker_inherits_the_switch(tmp_path: Path) -> None:
    # far and bench run models in spawn-context process pools; the worker imports wakeword to
    # unpickle its task, and inherits the parent's environment besides.
    code = (
        "import multiprocessing, os\n"
        "import wakeword.batch\n"
        "def probe():\n"
        "    import onnxruntime\n"
        "    return os.environ.get('ORT_DISABLE_TELEMETRY')\n"
        "if __name__ == '__main__':\n"
        "    with multiprocessing.get_context('spawn').Pool(1) as pool:\n"
        "        print(pool.apply(probe))\n"
    )
    script = tmp_path / "worker" / "worker.py"
    script.parent.mkdir()
    script.write_text(code)
    value, written = _run_in_fresh_process(tmp_path, str(script))
    assert value == "1"
    assert written == [], f"a spawned worker wrote {written}"
