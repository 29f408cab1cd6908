"""``keepmum.assert_events``: the comparison of ``replay --expect`` with a readable difference,
a time tolerance for entries that give none, and rewriting the file when asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import keepmum
from keepmum.api import Run

EVENTS = [
    {"event": "wake", "v": 1, "t": 1.0, "file": "a.wav", "model": "alexa", "score": 0.9},
    {"event": "utterance_end", "v": 1, "t": 2.92, "file": "a.wav", "model": "alexa"},
    {"event": "summary", "v": 1, "wakes": 1},
]
RUN = Run(EVENTS)


def test_matching_events_pass_within_the_tolerance() -> None:
    keepmum.assert_events(RUN, [{"event": "wake", "model": "alexa", "t": 1.2}])
    keepmum.assert_events(EVENTS, [{"event": "wake", "t": 1.6}], tolerance_s=0.65)
    keepmum.assert_events(RUN, [{"event": "wake", "t": 1.6, "tolerance_s": 0.7}])


def test_a_difference_names_what_is_missing_and_what_is_not_expected() -> None:
    with pytest.raises(AssertionError) as caught:
        keepmum.assert_events(RUN, [{"event": "wake", "model": "alexa", "t": 1.3}])
    message = str(caught.value)
    assert "expected events: the run differs from the expected events:" in message
    assert "missing:    wake model=alexa t=1.30±0.25s" in message
    assert "unexpected: wake t=1.00s model=alexa file=a.wav" in message
    assert "the run's events:\n  wake t=1.00s model=alexa\n  utterance_end t=2.92s" in message


def test_an_unexpected_second_event_of_an_expected_kind_fails() -> None:
    twice = Run([EVENTS[0], {**EVENTS[0], "t": 5.0}, EVENTS[2]])
    with pytest.raises(AssertionError, match=r"unexpected: wake t=5.00s"):
        keepmum.assert_events(twice, [{"event": "wake", "t": 1.0}])


def test_a_file_is_read_as_replay_expect_reads_it(tmp_path: Path) -> None:
    expected = tmp_path / "expected.json"
    expected.write_text(json.dumps([{"event": "utterance_end", "t": 3.0}]))
    keepmum.assert_events(RUN, expected)
    expected.write_text(json.dumps([{"event": "utterance_end", "t": 3.3}]))
    with pytest.raises(AssertionError, match=f"{expected}: the run differs"):
        keepmum.assert_events(RUN, str(expected))


def test_a_missing_file_says_how_to_write_it(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"no such expected-events file.*--keepmum-update"):
        keepmum.assert_events(RUN, tmp_path / "none.json")


def test_a_malformed_expectation_is_a_config_error() -> None:
    with pytest.raises(keepmum.ConfigError, match="unknown key 'tolerence_s'"):
        keepmum.assert_events(RUN, [{"event": "wake", "tolerence_s": 1}])


def test_update_rewrites_the_file_from_the_run(tmp_path: Path) -> None:
    expected = tmp_path / "expected.json"
    expected.write_text("[]")
    keepmum.assert_events(RUN, expected, update=True)
    assert json.loads(expected.read_text()) == [
        {"event": "wake", "model": "alexa", "t": 1.0},
        {"event": "utterance_end", "model": "alexa", "t": 2.92},
    ]
    keepmum.assert_events(RUN, expected)
    with pytest.raises(AssertionError):
        keepmum.assert_events(Run([EVENTS[2]]), expected)
