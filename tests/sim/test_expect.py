"""replay --expect: matching expected events, and a readable difference when they differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keepmum.errors import ConfigError
from sim.expect import check_expectations, load_expectations

ACTUAL = [
    {"event": "wake", "t": 3.0, "model": "alexa", "file": "/x/house.wav"},
    {"event": "utterance_end", "t": 5.0, "file": "/x/house.wav"},
    {"event": "wake", "t": 20.0, "model": "alexa", "file": "/x/house.wav"},
    {"event": "discarded", "t": 21.5, "reason": "no_speech", "file": "/x/house.wav"},
]


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "e.json"
    path.write_text(json.dumps(data))
    return path


def test_all_expected_events_seen(tmp_path: Path) -> None:
    expected = load_expectations(
        write(
            tmp_path,
            [
                {"event": "wake", "model": "alexa", "t": 3.2},
                {"event": "wake", "model": "alexa", "t": 19.8, "file": "house.wav"},
                {"event": "discarded", "t": 21.0, "tolerance_s": 1.0},
            ],
        )
    )
    assert check_expectations(expected, ACTUAL) == []


def test_missing_wrong_model_and_unexpected_extra(tmp_path: Path) -> None:
    expected = load_expectations(
        write(
            tmp_path,
            [
                {"event": "wake", "model": "alexa", "t": 3.0},
                {"event": "wake", "model": "hey_jarvis", "t": 20.0},
            ],
        )
    )
    problems = check_expectations(expected, ACTUAL)
    assert any(p.startswith("missing:") and "hey_jarvis" in p for p in problems)
    assert any(p.startswith("unexpected:") and "t=20.00" in p for p in problems)


def test_one_actual_event_cannot_satisfy_two_expectations(tmp_path: Path) -> None:
    expected = load_expectations(
        write(tmp_path, [{"event": "wake", "t": 3.0}, {"event": "wake", "t": 3.1}])
    )
    assert len(check_expectations(expected, ACTUAL[:1])) == 1


@pytest.mark.parametrize(
    "data", [{"event": "wake"}, [{"event": "bark"}], [{"event": "wake", "t": "soon"}]]
)
def test_bad_expectation_files(tmp_path: Path, data: object) -> None:
    with pytest.raises(ConfigError, match=r"e\.json"):
        load_expectations(write(tmp_path, data))
