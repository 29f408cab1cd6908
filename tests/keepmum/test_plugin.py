"""The pytest plugin as a tester meets it: pytest run in a folder outside this repository, with
the plugin found through its ``pytest11`` entry point, on docs/examples' file as written and on
small test files that use the fixture, the marker and ``--keepmum-update``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from device.events import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "test_keepmum_example.py"


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest on ``folder``, as a tester's CI would run it: no configuration of ours, and
    plugins found through their entry points even where this run's environment turns that off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _write_test(folder: Path, body: str) -> None:
    (folder / "test_mine.py").write_text(textwrap.dedent(body))


def test_the_documented_example_passes_as_written(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path)
    done = _pytest(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout
    assert (REPO / "docs" / "testers.md").read_text().count(EXAMPLE.read_text()) == 1


def test_a_difference_fails_and_update_rewrites_the_file(tmp_path: Path) -> None:
    _write_test(
        tmp_path,
        """
        from keepmum import fixtures

        def test_time(keepmum_device):
            run = keepmum_device.replay(fixtures.path("alexa_time"))
            keepmum_device.assert_events(run, "expected/alexa_time.json")
        """,
    )
    (tmp_path / "expected").mkdir()
    expected = tmp_path / "expected" / "alexa_time.json"
    expected.write_text('[{"event": "wake", "model": "alexa", "t": 3.0}]')

    failed = _pytest(tmp_path)
    assert failed.returncode == 1
    assert "missing:    wake model=alexa t=3.00±0.25s" in failed.stdout
    assert "unexpected: wake t=1.00s model=alexa" in failed.stdout

    updated = _pytest(tmp_path, "--keepmum-update")
    assert updated.returncode == 0, updated.stdout
    assert "keepmum: rewrote 1 expected-events file(s)" in updated.stdout
    assert json.loads(expected.read_text()) == [
        {"event": "wake", "model": "alexa", "t": 1.0},
        {"event": "listening", "model": "alexa", "t": 1.0},
        {"event": "utterance_end", "model": "alexa", "t": 2.92},
    ]
    assert _pytest(tmp_path).returncode == 0


def test_the_marker_and_configure_set_the_devices_settings(tmp_path: Path) -> None:
    _write_test(
        tmp_path,
        f"""
        import pytest
        from keepmum import fixtures

        @pytest.mark.keepmum(threshold=1.0, silence_ms=480)
        def test_marker(keepmum_device):
            assert keepmum_device.settings == {{"threshold": 1.0, "silence_ms": 480}}
            assert keepmum_device.replay(fixtures.path("alexa_time")).wakes == []

        def test_configure(keepmum_device, tmp_path):
            assert not keepmum_device.store and keepmum_device.home.parent == tmp_path
            keepmum_device.configure(threshold=1.0)
            run = keepmum_device.replay(fixtures.path("alexa_time"))
            assert run.wakes == [] and run.summary["v"] == {SCHEMA_VERSION}

        def test_defaults(keepmum_device):
            assert keepmum_device.settings == {{}}
            assert len(keepmum_device.replay(fixtures.path("alexa_time")).kept) == 1

        @pytest.mark.keepmum(silence_ms=-1)
        def test_bad_setting(keepmum_device):
            pass
        """,
    )
    done = _pytest(tmp_path, "-rE")
    assert "3 passed, 1 error" in done.stdout, done.stdout
    assert "silence_ms=-1: speaker.silence_ms must be in" in done.stdout
