"""``keepmum member enrol / unenrol``: a member's voiceprint, given and withdrawn by them."""

from __future__ import annotations

from pathlib import Path

import click
from pyrage import x25519

from device.audio import Pcm
from device.microphone import MicrophoneSource
from device.sources import read_audio
from sim.commands._common import (
    KeepmumCommand,
    home_option,
    json_option,
    opened_vault,
    passphrase_file_option,
    read_passphrase,
    resolve_home,
)
from sim.commands._output import Output
from sim.config import load_config
from sim.enrolment import check_enrolment_audio, enrol_voice
from sim.phrases import PhraseRules, record_phrases
from wakeword.vad import WebRtcVad

__all__ = ["member_enrol", "member_unenrol"]


def _unlock(home: Path | None, name: str, passphrase_files: tuple[str, ...]) -> x25519.Identity:
    """The member's identity, unlocked with their passphrase (a wrong one: exit 2)."""
    with opened_vault(home) as v:
        known = v.member(name)
        return v.unlock(known.name, read_passphrase(known.name, passphrase_files))


def _from_microphone(home: Path | None, phrases: int, input_device: str | None) -> list[Pcm]:
    """``phrases`` phrases recorded live, prompted on stderr; in RAM only."""
    config = load_config(home=resolve_home(home))
    vad = WebRtcVad(config.vad)  # speech as the device decides it
    wanted = input_device if input_device is not None else (config.device.input_device or None)
    return record_phrases(
        phrases,
        lambda: MicrophoneSource(wanted),
        vad.is_speech,
        lambda line: click.echo(line, err=True),
        PhraseRules(silence_ms=config.speaker.silence_ms),
        reset=vad.reset,
    )


@click.command("enrol", cls=KeepmumCommand)
@click.argument("name")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--mic",
    is_flag=True,
    help="Record the phrases from the microphone instead of files (prompts on stderr).",
)
@click.option(
    "--phrases",
    type=click.IntRange(1, 10),
    default=None,
    help="With --mic: how many phrases to record (default 3).",
)
@click.option(
    "--input-device",
    default=None,
    metavar="NAME|INDEX",
    help="With --mic: the microphone (default: from config, else the system default).",
)
@passphrase_file_option
@home_option
@json_option
def member_enrol(
    name: str,
    files: tuple[Path, ...],
    mic: bool,
    phrases: int | None,
    input_device: str | None,
    passphrase_files: tuple[str, ...],
    home: Path | None,
    json_lines: bool,
) -> None:
    """Enrol NAME's voice from recordings of them (3 utterances of a few seconds is enough), or
    live with --mic, so that requests they speak are filed under them. Needs their passphrase:
    the voiceprint is biometric data and enrolling is their consent. The voiceprint stays on
    this device; live phrases are never written anywhere."""
    out = Output(json_lines)
    if mic == bool(files):
        raise click.UsageError("give recordings of the member, or --mic to record them live")
    if not mic and (phrases is not None or input_device is not None):
        raise click.UsageError("--phrases and --input-device go with --mic")
    if files:
        audio = [read_audio(f) for f in files]  # every file opened (and so checked) first
        check_enrolment_audio(audio, str(files[0]))
        identity = _unlock(home, name, passphrase_files)
    else:
        # The passphrase first: nobody should speak three phrases to learn it was wrong.
        identity = _unlock(home, name, passphrase_files)
        audio = _from_microphone(home, phrases or 3, input_device)
    with opened_vault(home) as v:
        enrolled = enrol_voice(v, v.member(name).name, identity, audio)
    out.emit(enrolled.event())
    source = "phrase(s) from the microphone" if mic else "recording(s)"
    out.say(
        f"enrolled {enrolled.member}'s voice from {enrolled.utterances} {source} "
        f"(lowest agreement with the voiceprint {enrolled.agreement:.2f}); it stays on this device"
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
