"""Bundled fixtures by name: the manifest's clips and the household scenario."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import keepmum
from keepmum import fixtures

DATA = Path(__file__).resolve().parents[2] / "sim" / "data"


def test_names_are_the_manifests_clips_and_the_scenario() -> None:
    manifest = json.loads((DATA / "fixtures.json").read_text())
    clips = {Path(c["file"]).stem for c in manifest["clips"]}
    assert fixtures.names() == sorted(clips | {"household"})
    assert fixtures.names("scenario") == ["household"]
    assert "alexa_then_silence" in fixtures.names("wake_then_silence")
    assert "alexa_time" not in fixtures.names("negative")


@pytest.mark.parametrize("name", fixtures.names())
def test_every_name_is_a_file(name: str) -> None:
    assert fixtures.path(name).is_file()
    assert fixtures.path(name).name == f"{name}.wav"


def test_describe_gives_the_manifest_entry() -> None:
    entry = fixtures.describe("alexa_time")
    assert entry["kind"] == "positive" and entry["model"] == "alexa"
    assert entry["text"] == "Alexa, what time is it?"


def test_expected_events_of_the_scenario() -> None:
    assert fixtures.expected("household") == DATA / "household.expect.json"
    with pytest.raises(keepmum.ConfigError, match="'alexa_time' has no expected-events file"):
        fixtures.expected("alexa_time")


def test_an_unknown_name_lists_the_names() -> None:
    with pytest.raises(keepmum.ConfigError) as caught:
        fixtures.path("alexa_tme")
    assert "unknown fixture 'alexa_tme' (did you mean 'alexa_time'?" in str(caught.value)
