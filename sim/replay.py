"""One run of the device on some inputs: what ``keepmum replay``, ``listen`` and ``demo`` do, and
what :func:`keepmum.replay` does in process, so that both report the same events.

The events come out in their ``--json`` form (:func:`event_json`): the device's JSON objects
(versioned, see :data:`device.events.SCHEMA_VERSION`) with their values rounded as every
``--json`` line is (:func:`sim.json_lines.jsonable`).
"""

from __future__ import annotations

import contextlib
import shlex
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.events import Event, Summary
from device.pipeline import Attribute, UtteranceSink, run_device
from device.sources import AudioSource
from keepmum.errors import ConfigError, StorageFullError, VaultError
from sim.assemble import VaultSink, VoiceAttributor, build_speaker
from sim.config import Config, VoiceSettings, load_config
from sim.json_lines import jsonable
from storage.settings import VaultSettings
from storage.vault import Notice, Vault
from wakeword.voice import VOICE_MODEL_NAME, VoiceEncoder, VoiceMatcher

__all__ = [
    "RunOutcome",
    "event_json",
    "raise_if_full",
    "run_sources",
    "vault_sink",
    "voice_attribution",
]

EventJson = dict[str, Any]


def event_json(event: Event | Summary) -> EventJson:
    """An event (or a run's summary) as the object its ``--json`` line holds."""
    data: EventJson = jsonable(event.to_json())
    return data


@dataclass(frozen=True)
class RunOutcome:
    """What one run did."""

    summary: Summary
    events: list[EventJson]
    """Every event in its ``--json`` form, in order, the summary last."""


def run_sources(
    sources: Sequence[AudioSource],
    config: Config,
    sink: UtteranceSink | None = None,
    *,
    on_event: Callable[[EventJson], None] | None = None,
    on_frame: Any = None,
    stop: threading.Event | None = None,
    attribute: Attribute | None = None,
) -> RunOutcome:
    """Run the device built from ``config`` on ``sources`` (see :func:`device.pipeline.
    run_device`); ``on_event`` sees each event's ``--json`` form as it happens (not the
    summary, which is the last of :attr:`RunOutcome.events`); ``attribute`` files each kept
    request under the member whose voice it is (:func:`voice_attribution`)."""
    speaker = build_speaker(config)
    events: list[EventJson] = []

    def report(event: Event) -> None:
        data = event_json(event)
        events.append(data)
        if on_event is not None:
            on_event(data)

    summary = run_device(
        sources, speaker, report, sink, on_frame=on_frame, stop=stop, attribute=attribute
    )
    events.append(event_json(summary))
    return RunOutcome(summary, events)


@contextlib.contextmanager
def vault_sink(
    home: Path | None,
    config: Config,
    member: str | None,
    *,
    store: bool,
    on_full: Callable[[StorageFullError], None] | None = None,
    instead: str = "run without storing",
    on_notice: Callable[[Notice], None] | None = None,
) -> Iterator[UtteranceSink | None]:
    """The home's vault bound to a member (default: its first), or nothing when not storing.
    ``instead`` ends the error for a home without a vault (the option that runs without one);
    ``on_notice`` hears what the vault says without failing (a clock behind its high-water mark)."""
    if not store:
        yield None
        return
    if home is None:
        raise VaultError(f"no home given: no vault to store in; {instead}")
    if not Vault.exists(home):
        raise VaultError(
            f"{home}: no vault here; run `keepmum init --home {shlex.quote(str(home))} "
            f"--member NAME` first, or {instead}"
        )
    with Vault.open(home, _run_vault_settings(home, config), on_notice=on_notice) as vault:
        # Records kept under a live all-future grant are also encrypted to its endpoint at
        # commit: the vault does that in every store.
        yield VaultSink(vault, member or vault.default_member(), on_full=on_full)


def _run_vault_settings(home: Path, config: Config) -> VaultSettings:
    """The run's retention (it applies only to what this run stores: expiry is fixed per
    record) with a capacity no smaller than the home's own, so a one-off ``--config`` cannot
    shrink the vault and delete what is already kept (issue 10.2)."""
    try:
        home_capacity_s = load_config(home=home).vault.capacity_s
    except ConfigError:
        home_capacity_s = config.vault.capacity_s
    return VaultSettings(
        retention_h=config.vault.retention_h,
        capacity_s=max(config.vault.capacity_s, home_capacity_s),
    )


def raise_if_full(sink: UtteranceSink | None) -> None:
    """After the summary: a run that could not store on a full disk ends with an error."""
    full = getattr(sink, "full", None)
    if isinstance(full, StorageFullError):
        raise StorageFullError(
            f"{full} ({getattr(sink, 'not_stored', 0)} kept utterance(s) "
            "of this run could not be stored and were discarded from RAM)"
        )


def voice_attribution(
    sink: UtteranceSink | None, member: str | None, settings: VoiceSettings
) -> Attribute | None:
    """Voice attribution from the vault's voiceprints, with the ``[voice]`` settings; None
    (every request to one member, as without enrolment) with ``--member``, ``--no-store`` or
    nobody enrolled."""
    if member is not None or not isinstance(sink, VaultSink):
        return None
    prints = sink.vault.voiceprints()
    if not prints:
        return None
    for vp in prints:
        if vp.model != VOICE_MODEL_NAME:
            raise ConfigError(
                f"member {vp.member!r}: voiceprint made by {vp.model!r}, this keepmum matches "
                f"{VOICE_MODEL_NAME!r}; enrol them again (keepmum member enrol)"
            )
    matcher = VoiceMatcher(
        {vp.member: vp.vector for vp in prints}, settings.voice_threshold, VoiceEncoder()
    )
    return VoiceAttributor(matcher, discard_strangers=settings.unattributed == "discard")
