"""``run_device``'s attribution: whose each kept utterance is, decided once, before storing."""

from __future__ import annotations

import threading

import pytest

from device.events import Discarded, Event, Stored, Summary, UtteranceEnd
from device.pipeline import Attribution, run_device
from device.speaker import Speaker
from device.utterance import Utterance
from tests.device.test_pipeline import ListSource
from tests.device.test_speaker import ScriptedVad, ScriptedWake


class MemberSink:
    """Records which member each kept utterance was filed under (None: the default)."""

    def __init__(self) -> None:
        self.kept: list[str | None] = []
        self.discarded: list[str] = []

    def keep(self, utterance: Utterance, member: str | None = None) -> tuple[str, str] | None:
        self.kept.append(member)
        return (f"r{len(self.kept)}", member or "default")

    def note_discarded(self, event: Discarded) -> None:
        self.discarded.append(event.reason)

    def note_run(self, source: str, summary: Summary) -> None:
        pass


def _run(attribute: object) -> tuple[MemberSink, list[Event], Summary, int]:
    calls = []

    def counting(utterance: Utterance) -> Attribution:
        calls.append(utterance)
        return attribute(utterance)  # type: ignore[operator, no-any-return]

    sink = MemberSink()
    events: list[Event] = []
    source = ListSource("a", 60, threading.Event(), stop_at=None)
    speaker = Speaker(ScriptedWake({10}), ScriptedVad(set(range(16, 40))))
    summary = run_device(
        [source], speaker, events.append, sink, attribute=None if attribute is None else counting
    )
    return sink, events, summary, len(calls)


def test_attributed_utterance_is_stored_under_its_member_with_the_score() -> None:
    sink, events, summary, calls = _run(lambda u: Attribution("bob", 0.83))
    assert calls == 1  # once per kept utterance, not per frame
    assert sink.kept == ["bob"]
    (stored,) = [e for e in events if isinstance(e, Stored)]
    assert stored.member == "bob" and stored.to_json()["voice_score"] == 0.83
    assert summary.stored == 1 and summary.discarded == 0


def test_stranger_is_discarded_and_never_reaches_the_sink() -> None:
    sink, events, summary, _ = _run(lambda u: Attribution(None, 0.41, discard=True))
    assert sink.kept == [] and sink.discarded == ["stranger"]
    (gone,) = [e for e in events if isinstance(e, Discarded)]
    assert gone.reason == "stranger" and gone.to_json()["voice_score"] == 0.41
    end = next(e for e in events if isinstance(e, UtteranceEnd))
    assert gone.duration_s == end.duration_s
    assert summary.stored == 0 and summary.kept_s == 0.0 and summary.discarded == 1
    assert summary.discarded_s == pytest.approx(end.duration_s)


def test_unattributed_kept_goes_to_the_default_member() -> None:
    sink, events, _, _ = _run(lambda u: Attribution(None, 0.41))
    assert sink.kept == [None]
    (stored,) = [e for e in events if isinstance(e, Stored)]
    assert stored.member == "default" and stored.voice_score == 0.41


def test_without_attribution_events_are_as_before() -> None:
    sink, events, _, _ = _run(None)
    assert sink.kept == [None]
    (stored,) = [e for e in events if isinstance(e, Stored)]
    assert "voice_score" not in stored.to_json()
