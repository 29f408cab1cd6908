"""One direction of data: source -> speaker -> sink, with every event reported on the way.

``run_device`` is the whole device for one or more inputs. The sink (the vault, in the product)
is a protocol here so that ``device`` never imports ``storage``; ``sim`` binds the real vault.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Protocol

from device.audio import FRAME_SECONDS, Frame
from device.events import Discarded, Event, Stored, Summary, UtteranceEnd, Wake
from device.sources import AudioSource
from device.speaker import Speaker
from device.utterance import Utterance

__all__ = ["Attribute", "Attribution", "UtteranceSink", "run_device"]


@dataclass(frozen=True)
class Attribution:
    """Whose request a kept utterance is, decided once per utterance before it is stored."""

    member: str | None
    """The member to file it under; None: the sink's default member."""
    voice_score: float | None = None
    """How well the voice matched ``member`` (or the nearest voiceprint when nobody matched)."""
    discard: bool = False
    """Nobody's voice matched and unattributed requests are discarded (reason ``stranger``)."""


Attribute = Callable[[Utterance], Attribution]
"""Decides whose a kept utterance is (``sim`` builds it from the enrolled voiceprints)."""


class UtteranceSink(Protocol):
    """Where kept utterances go (the vault), and what it is told about everything else."""

    def keep(self, utterance: Utterance, member: str | None = None) -> tuple[str, str] | None:
        """Store a kept utterance under ``member`` (None: the sink's default member); return
        (record id, member), or None when nothing was stored (retention 0)."""
        ...

    def note_discarded(self, event: Discarded) -> None:
        """Record that audio was discarded without being written (no audio in the note)."""
        ...

    def note_run(self, source: str, summary: Summary) -> None:
        """Record one input's totals."""
        ...


def run_device(
    sources: Iterable[AudioSource],
    speaker: Speaker,
    on_event: Callable[[Event], None],
    sink: UtteranceSink | None = None,
    *,
    on_frame: Callable[[Speaker, Frame], None] | None = None,
    stop: threading.Event | None = None,
    attribute: Attribute | None = None,
) -> Summary:
    """Run every source through the speaker in turn (history reset between inputs) and return
    the totals. ``on_frame`` is called after each frame (the live view; reading keys for mute).

    ``stop`` ends the run early but cleanly (set from a signal handler): after the frame in
    hand, the input is finished as if it had ended there (the utterance in hand is decided,
    kept or discarded, by the usual rules), its totals are noted, and later sources are not
    read.

    ``attribute`` (with voices enrolled) says whose each kept utterance is, once per utterance,
    before anything is stored: a stranger's is discarded (reason ``stranger``) and never
    reaches the sink's ``keep``. Without it every utterance goes to the sink's default member.
    """
    total = Summary()
    for source in sources:
        if stop is not None and stop.is_set():
            break
        speaker.reset()
        run = Summary(files=1)
        frames = 0
        muted_before = speaker.muted_frames
        last_end = 0.0
        for frame in source.frames():
            frames += 1
            last_end = frame.end_t
            for event in speaker.process(frame):
                _account(event, run, sink, on_event, attribute)
            if on_frame is not None:
                on_frame(speaker, frame)
            if stop is not None and stop.is_set():
                break
        for event in speaker.finish(last_end, source.name):
            _account(event, run, sink, on_event, attribute)
        # Everything the device processed, a replay's silence padding included: kept audio is
        # part of what was heard, so kept_s <= heard_s always holds.
        run.heard_s = frames * FRAME_SECONDS
        run.muted_s = (speaker.muted_frames - muted_before) * FRAME_SECONDS
        run.dropped_frames = getattr(source, "dropped_frames", 0)
        if sink is not None:
            sink.note_run(source.name, run)
        _add(total, run)
    return total


def _account(
    event: Event,
    run: Summary,
    sink: UtteranceSink | None,
    on_event: Callable[[Event], None],
    attribute: Attribute | None = None,
) -> None:
    on_event(event)
    if isinstance(event, Wake):
        run.wakes += 1
    elif isinstance(event, Discarded):
        run.discarded += 1
        run.discarded_s += event.duration_s
        if sink is not None:
            sink.note_discarded(event)
    elif isinstance(event, UtteranceEnd):
        run.utterances += 1
        whose = Attribution(None) if attribute is None else attribute(event.utterance)
        if whose.discard:
            stranger = Discarded(
                event.t,
                "stranger",
                event.duration_s,
                event.utterance.model,
                event.file,
                event.request_speech_ms,
                voice_score=whose.voice_score,
            )
            _account(stranger, run, sink, on_event)
            return
        if sink is None:
            run.kept_s += event.duration_s
            return
        # Unattributed: the sink's own default, called as before voices existed.
        stored = (
            sink.keep(event.utterance)
            if whose.member is None
            else sink.keep(event.utterance, whose.member)
        )
        if stored is not None:
            record, member = stored
            run.kept_s += event.duration_s
            run.stored += 1
            run.stored_s += event.duration_s
            stored_event = Stored(
                event.t,
                record,
                member,
                event.duration_s,
                event.file,
                gap_ms=event.utterance.gap_ms,
                voice_score=whose.voice_score,
            )
            on_event(stored_event)


def _add(total: Summary, run: Summary) -> None:
    for field in fields(Summary):
        setattr(total, field.name, getattr(total, field.name) + getattr(run, field.name))
