"""Passphrases from files (first line, line ending stripped) or from a hidden prompt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keepmum.errors import ConfigError
from sim.commands._common import parse_passphrase_files, read_passphrase, read_passphrase_file


def test_first_line_without_its_ending(tmp_path: Path) -> None:
    cases = [
        ("pw\n", "pw"),
        ("pw\r\nsecond\n", "pw"),
        ("no newline", "no newline"),
        ("  spaced  \n", "  spaced  "),
    ]
    for content, expected in cases:
        f = tmp_path / "p"
        f.write_text(content, newline="")
        assert read_passphrase_file(f, "alice") == expected


@pytest.mark.parametrize("content", ["", "\n", "\nsecond line\n"])
def test_empty_first_line_is_refused(tmp_path: Path, content: str) -> None:
    f = tmp_path / "p"
    f.write_text(content)
    with pytest.raises(ConfigError, match="is empty"):
        read_passphrase_file(f, "alice")


def test_missing_file_names_the_member_not_the_value(tmp_path: Path) -> None:
    # The usual mistake: the passphrase itself where its file belongs.
    with pytest.raises(ConfigError, match=r"alice=\.\.\.: no such passphrase file") as info:
        read_passphrase_file(Path("correct-horse-battery"), "alice")
    assert "correct-horse-battery" not in str(info.value)


@pytest.mark.parametrize("spec", ["alice", "=f", "alice=", "", "correct-horse-battery"])
def test_malformed_specs(spec: str) -> None:
    with pytest.raises(ConfigError, match="expected NAME=FILE") as info:
        parse_passphrase_files([spec])
    # A passphrase typed where NAME=FILE belongs must not be echoed into a terminal or a log.
    assert not spec or spec not in str(info.value).replace("NAME=FILE", "")


def test_file_wins_and_the_prompt_is_asked_otherwise(tmp_path: Path) -> None:
    f = tmp_path / "a"
    f.write_text("from file\n")
    asked: list[tuple[str, dict[str, Any]]] = []

    def prompt(text: str, **kwargs: Any) -> str:
        asked.append((text, kwargs))
        return "typed passphrase"

    assert read_passphrase("alice", [f"alice={f}"], prompt=prompt) == "from file"
    assert asked == []
    assert read_passphrase("bob", [f"alice={f}"], confirm=True, prompt=prompt) == "typed passphrase"
    assert asked == [
        ("Passphrase for bob (new)", {"hide_input": True, "confirmation_prompt": True})
    ]


def test_two_files_for_one_member_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="two files"):
        parse_passphrase_files(["a=x", "a=y"])
