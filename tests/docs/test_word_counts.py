"""The READMEs stay short enough to read (issue 28): README.md at most 2,000 words, each package
README at most 2,500. What does not fit belongs on a page of the documentation site (docs/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO

LIMITS = {
    "README.md": 2000,
    "device/README.md": 2500,
    "wakeword/README.md": 2500,
    "storage/README.md": 2500,
    "storage/EXPORT.md": 2500,
    "sim/README.md": 2500,
    "sim/research/README.md": 2500,
    "sim/data/README.md": 2500,
}


def words(path: Path) -> int:
    """Words as ``wc -w`` counts them: runs of characters between whitespace."""
    return len(path.read_text(encoding="utf-8").split())


def test_every_readme_in_the_repository_has_a_limit() -> None:
    found = {
        str(path.relative_to(REPO))
        for path in REPO.rglob("*.md")
        if not path.relative_to(REPO).parts[0].startswith((".", "docs", "site", "build"))
        and "node_modules" not in path.parts
    }
    found -= {"CHANGELOG.md"}
    assert found <= set(LIMITS), f"READMEs without a word limit: {sorted(found - set(LIMITS))}"


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_a_readme_is_within_its_word_limit(name: str) -> None:
    count = words(REPO / name)
    assert count <= LIMITS[name], f"{name} has {count} words; its limit is {LIMITS[name]}"


def test_words_counts_as_wc_does(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("one two\n\nthree\tfour  five-six `seven`\n", encoding="utf-8")
    assert words(page) == 6
