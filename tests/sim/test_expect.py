"""replay --expect: matching expected events, and a readable difference when they differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keepmum.errors import ConfigError
from sim.expect import (
    check_expectations,
    expectations_text,
    expected_from_events,
    load_expectations,
    parse_expectations,
)

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


def test_an_entry_without_tolerance_takes_the_default_given(tmp_path: Path) -> None:
    path = write(tmp_path, [{"event": "wake", "t": 3.3}, {"event": "wake", "tolerance_s": 2}])
    assert [e.tolerance_s for e in load_expectations(path)] == [0.5, 2.0]
    assert [e.tolerance_s for e in load_expectations(path, default_tolerance_s=0.1)] == [0.1, 2.0]
    strict = parse_expectations([{"event": "wake", "t": 3.3}], "mine", default_tolerance_s=0.2)
    assert check_expectations(strict, ACTUAL[:1]) == [
        "missing:    wake t=3.30±0.2s",
        "unexpected: wake t=3.00s model=alexa file=/x/house.wav",
    ]
    with pytest.raises(ConfigError, match=r"^mine: entry 0: "):
        parse_expectations([{"event": "wake", "t": "soon"}], "mine")


def test_expectations_written_from_a_run_are_met_by_it(tmp_path: Path) -> None:
    run = [*ACTUAL, {"event": "summary", "wakes": 2}, {"event": "mute", "t": 30.004}]
    expected = expected_from_events(run)
    assert expected[0] == {"event": "wake", "model": "alexa", "t": 3.0}
    assert [e["event"] for e in expected] == [
        "wake",
        "utterance_end",
        "wake",
        "discarded",
        "mute",
    ]
    assert expected[-1]["t"] == 30.0 and "file" not in expected[-1]
    path = tmp_path / "written.json"
    path.write_text(expectations_text(expected))
    assert check_expectations(load_expectations(path), run) == []
    assert expectations_text([]) == "[]\n"


def test_written_expectations_name_the_file_when_a_run_heard_several() -> None:
    other = {"event": "wake", "t": 1.0, "model": "alexa", "file": "/y/kitchen.wav"}
    expected = expected_from_events([ACTUAL[0], other])
    assert [e["file"] for e in expected] == ["house.wav", "kitchen.wav"]
