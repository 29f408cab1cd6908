"""What the device reports: small typed events, each able to say itself as one JSON object.

Times ``t`` are seconds from the start of the input; ``file`` names the input. The JSON keys are
the command-line contract (DESIGN.md): scripts and tests rely on them, so every object carries
the schema's version ``v`` (:data:`SCHEMA_VERSION`; the compatibility policy is in
docs/testers.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from device.utterance import Utterance

SCHEMA_VERSION = 1
"""The version of the events' JSON form. It stays 1 while keys are only added; removing or
renaming a key, or changing a key's meaning or unit, makes it 2 (docs/testers.md)."""

__all__ = [
    "SCHEMA_VERSION",
    "Discarded",
    "Event",
    "Listening",
    "MuteChanged",
    "Stored",
    "Summary",
    "UtteranceEnd",
    "Wake",
]


@dataclass(frozen=True)
class Wake:
    """A wake word fired."""

    t: float
    model: str
    score: float
    file: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "wake",
            "v": SCHEMA_VERSION,
            "t": self.t,
            "file": self.file,
            "model": self.model,
            "score": self.score,
        }


@dataclass(frozen=True)
class Listening:
    """After a wake the device listens for a request (a light ring would turn on): for up to
    ``listen_s`` after the wake word's end, held in RAM only."""

    t: float
    listen_s: float
    """How long it waits for a request to start, from the wake word's end (seconds)."""
    model: str
    file: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "listening",
            "v": SCHEMA_VERSION,
            "t": self.t,
            "file": self.file,
            "model": self.model,
            "listen_s": self.listen_s,
        }


@dataclass(frozen=True)
class UtteranceEnd:
    """An utterance ended and is kept (handed to the vault unless storing is off)."""

    t: float
    duration_s: float
    reason: str
    """``silence``, ``max_length`` or ``end_of_input``."""
    utterance: Utterance = field(repr=False)
    file: str = ""
    request_speech_ms: int = 0
    """Confirmed request speech after the wake word (milliseconds)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "utterance_end",
            "v": SCHEMA_VERSION,
            "t": self.t,
            "file": self.file,
            "duration_s": self.duration_s,
            "reason": self.reason,
            "model": self.utterance.model,
            "request_speech_ms": self.request_speech_ms,
            "gap_ms": self.utterance.gap_ms,
        }


@dataclass(frozen=True)
class Discarded:
    """Audio collected after a wake was thrown away without touching the disk."""

    t: float
    reason: str
    """Why (a likely false wake): ``no_speech`` (nothing was said before the wait for a request
    ran out), ``wake_tail`` (the only speech was the wake word's own tail), ``noise`` (sound
    that was not speech, or speech too short to be a request), ``room_talk`` (speech no louder
    than the room's talk before the wake word: the room talking on); or ``muted``; or
    ``stranger`` (a request kept by the rules above whose voice matched no enrolled member, with
    voices enrolled and unattributed requests discarded)."""
    duration_s: float
    model: str
    file: str = ""
    request_speech_ms: int = 0
    """Confirmed request speech after the wake word (milliseconds; below ``min_speech_ms``)."""
    voice_score: float | None = None
    """For ``stranger``: the best voiceprint's score, under the threshold."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "event": "discarded",
            "v": SCHEMA_VERSION,
            "t": self.t,
            "file": self.file,
            "reason": self.reason,
            "duration_s": self.duration_s,
            "model": self.model,
            "request_speech_ms": self.request_speech_ms,
        }
        if self.voice_score is not None:
            data["voice_score"] = self.voice_score
        return data


@dataclass(frozen=True)
class Stored:
    """A kept utterance was committed to the vault, encrypted to its member."""

    t: float
    record: str
    member: str
    duration_s: float
    file: str = ""
    gap_ms: int = 0
    """The pause before the request, not stored (milliseconds)."""
    voice_score: float | None = None
    """How well the voice matched ``member``'s voiceprint (0-1); absent with nobody enrolled or
    ``--member`` given."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "event": "stored",
            "v": SCHEMA_VERSION,
            "t": self.t,
            "file": self.file,
            "record": self.record,
            "member": self.member,
            "duration_s": self.duration_s,
            "gap_ms": self.gap_ms,
        }
        if self.voice_score is not None:
            data["voice_score"] = self.voice_score
        return data


@dataclass(frozen=True)
class MuteChanged:
    """The microphone was muted or unmuted."""

    t: float
    muted: bool
    file: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "mute" if self.muted else "unmute",
            "v": SCHEMA_VERSION,
            "t": self.t,
            "file": self.file,
        }


@dataclass
class Summary:
    """Totals of one run: what was heard versus what was kept."""

    heard_s: float = 0.0
    """Audio that reached the device, muted time included (seconds)."""
    muted_s: float = 0.0
    """Audio dropped unseen while muted (seconds)."""
    kept_s: float = 0.0
    """Audio of kept utterances (stored, or that would be stored with storing off) (seconds)."""
    stored_s: float = 0.0
    """Audio actually written to the vault, encrypted (seconds)."""
    discarded_s: float = 0.0
    """Audio collected after wakes and thrown away unwritten (seconds)."""
    wakes: int = 0
    utterances: int = 0
    discarded: int = 0
    stored: int = 0
    uploaded_bytes: int = 0
    """Bytes that left the device during the run (always 0: uploading is a separate step)."""
    files: int = 0
    dropped_frames: int = 0
    """Microphone frames lost to overflow (0 for files)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "summary",
            "v": SCHEMA_VERSION,
            "heard_s": self.heard_s,
            "kept_s": self.kept_s,
            "stored_s": self.stored_s,
            "discarded_s": self.discarded_s,
            "muted_s": self.muted_s,
            "wakes": self.wakes,
            "utterances": self.utterances,
            "discarded": self.discarded,
            "stored": self.stored,
            "uploaded_bytes": self.uploaded_bytes,
            "files": self.files,
            "dropped_frames": self.dropped_frames,
        }


Event = Wake | Listening | UtteranceEnd | Discarded | Stored | MuteChanged
