"""``keepmum member enrol / unenrol``: a member's voiceprint, given and withdrawn by them."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from device.sources import read_audio
from keepmum.errors import ConfigError
from sim.commands._common import (
    KeepmumCommand,
    home_option,
    json_option,
    opened_vault,
    passphrase_file_option,
    read_passphrase,
)
from sim.commands._output import Output
from wakeword.voice import VOICE_MODEL_NAME, VoiceEncoder, enrol_voiceprint

__all__ = ["member_enrol", "member_unenrol"]

MIN_SPEECH_S = 1.0
"""Shortest enrolment audio in all (seconds): less than one of the model's partials is noise."""


@click.command("enrol", cls=KeepmumCommand)
@click.argument("name")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@passphrase_file_option
@home_option
@json_option
def member_enrol(
    name: str,
    files: tuple[Path, ...],
    passphrase_files: tuple[str, ...],
    home: Path | None,
    json_lines: bool,
) -> None:
    """Enrol NAME's voice from recordings of them (3 utterances of a few seconds is enough), so
    that requests they speak are filed under them. Needs their passphrase: the voiceprint is
    biometric data and enrolling is their consent. The voiceprint stays on this device."""
    out = Output(json_lines)
    audio = [read_audio(f) for f in files]  # every file opened (and so checked) first
    total_s = sum(len(a) for a in audio) / 16000
    if total_s < MIN_SPEECH_S:
        raise ConfigError(
            f"{files[0]}: {total_s:.2f} s of audio in all; enrolling needs at least "
            f"{MIN_SPEECH_S:.0f} s of the member speaking"
        )
    with opened_vault(home) as v:
        known = v.member(name)
        identity = v.unlock(known.name, read_passphrase(known.name, passphrase_files))
        enrolment = enrol_voiceprint(VoiceEncoder(), audio)
        stored = v.enrol_voice(
            known.name,
            enrolment.voiceprint,
            utterances=len(audio),
            model=VOICE_MODEL_NAME,
            identity=identity,
        )
    agreement = enrolment.agreement
    out.emit(
        {
            "event": "voice_enrolled",
            "member": stored.member,
            "utterances": stored.utterances,
            "model": stored.model,
            "agreement": round(float(np.float32(agreement)), 4),
        }
    )
    out.say(
        f"enrolled {stored.member}'s voice from {stored.utterances} recording(s) "
        f"(lowest agreement with the voiceprint {agreement:.2f}); it stays on this device"
    )


@click.command("unenrol", cls=KeepmumCommand)
@click.argument("name")
@home_option
@json_option
def member_unenrol(name: str, home: Path | None, json_lines: bool) -> None:
    """Erase NAME's voiceprint (their requests are then no longer attributed to them). Needs no
    passphrase: withdrawing consent is never harder than giving it."""
    out = Output(json_lines)
    with opened_vault(home) as v:
        known = v.member(name)
        erased = v.unenrol_voice(known.name)
    out.emit({"event": "voice_unenrolled", "member": known.name, "erased": erased})
    out.say(f"erased {known.name}'s voiceprint" if erased else f"{known.name} had no voiceprint")
