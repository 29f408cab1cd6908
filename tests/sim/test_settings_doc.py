"""The configuration reference is made from the settings' declarations and is up to date."""

from __future__ import annotations

from pathlib import Path

from keepmum.settings import declared
from sim.config import SECTIONS
from sim.settings_doc import DOC_PATH, configuration_reference, main


def test_the_page_in_the_repository_is_up_to_date() -> None:
    assert DOC_PATH.read_text() == configuration_reference(), (
        "docs/reference/configuration.md is out of date: run python -m sim.settings_doc"
    )


def test_every_setting_has_a_row_with_its_range_default_and_option() -> None:
    page = configuration_reference()
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert len(rows) == sum(len(list(declared(s))) for s in SECTIONS.values())
    assert (
        "| `silence_ms` | ms | 80..10000 | `700` | `--silence-ms` | Trailing silence that ends "
        "an utterance (ms). |" in rows
    )
    assert "| `aggressiveness` | mode | 0, 1, 2 or 3 | `2` | `--vad-aggressiveness` |" in page
    assert "| `default_threshold` | score | (0, 1] | `0.5` | - |" in page
    assert "## `[speaker]`" in page and "## `[vault]`" in page


def test_check_fails_on_a_stale_page_and_passes_on_a_fresh_one(tmp_path: Path) -> None:
    page = tmp_path / "configuration.md"
    assert main(["--check", "--out", str(page)]) == 1  # missing
    assert main(["--out", str(page)]) == 0
    assert main(["--check", "--out", str(page)]) == 0
    page.write_text(page.read_text().replace("80..10000", "80..9999"))
    assert main(["--check", "--out", str(page)]) == 1
