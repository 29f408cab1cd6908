"""The tour (docs/tour.md) runs as written: every command of its runnable blocks, in order, in a
fresh HOME and a fresh scratch folder, on the bundled audio and what the tour makes itself.

Not run, by their marks: the blocks that need a microphone (`keepmum listen`, `arecord`). The
block that opens the export with the member's passphrase runs in a terminal (`script`), as age
reads a passphrase only from one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, require_tool
from tests.docs.tour import SKIPPED, blocks, script

TOUR = REPO / "docs" / "tour.md"


def test_every_sh_block_of_the_tour_is_marked_run_or_skipped_with_a_reason() -> None:
    found = blocks(TOUR)
    assert len(found) >= 8
    unmarked = [block.line for block in found if block.mark is None]
    assert unmarked == [], (
        f"docs/tour.md: sh blocks without a <!-- tour --> mark at lines {unmarked}"
    )
    for block in found:
        assert block.mark == "" or block.mark in SKIPPED or block.terminal_input, block
    skipped = [block for block in found if not block.runs]
    assert [block.mark for block in skipped] == ["needs a microphone"]


def test_the_parser_finds_an_unmarked_block_and_reads_each_mark(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- tour -->\n```sh\necho one\n```\n\n```sh\necho two\n```\n\n"
        "<!-- tour: needs a microphone -->\n```sh\nkeepmum listen\n```\n\n"
        "<!-- tour: terminal pass.txt -->\n```sh\nage -d x\n```\n",
        encoding="utf-8",
    )
    found = blocks(page)
    assert [(b.body, b.mark, b.runs) for b in found] == [
        ("echo one", "", True),
        ("echo two", None, False),
        ("keepmum listen", "needs a microphone", False),
        ("age -d x", "terminal pass.txt", True),
    ]
    assert found[3].terminal_input == "pass.txt"
    text = script(page, tmp_path)
    assert "echo one" in text and "echo two" not in text and "keepmum listen" not in text
    assert "script -qec" in text and "< pass.txt" in text


@pytest.mark.slow
@pytest.mark.system
def test_the_tour_runs_as_written(tmp_path: Path) -> None:
    for tool in ("age", "age-keygen", "espeak-ng", "sox", "script"):
        require_tool(tool)
    home = tmp_path / "home"
    scratch = tmp_path / "tmp"
    home.mkdir()
    scratch.mkdir()
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("KEEPMUM_", "XDG_"))
    }
    venv_bin = str(Path(sys.executable).parent)
    env.update(HOME=str(home), TMPDIR=str(scratch), PATH=f"{venv_bin}{os.pathsep}{env['PATH']}")
    run = subprocess.run(
        ["bash", "-c", script(TOUR, tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, (
        f"a tour command exited {run.returncode}; the last block started is the last "
        f"'== docs/tour.md line' below\n{run.stderr[-4000:]}\nstdout:\n{run.stdout[-2000:]}"
    )
    # The tour wrote only where it says: the scratch folder and the fresh HOME, not the clone.
    assert list(scratch.iterdir()), "the tour's scratch folder was not made under TMPDIR"
