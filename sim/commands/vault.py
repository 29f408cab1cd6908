"""``keepmum init``, ``member add/list`` and ``vault list/play/delete/purge/verify/forget``.

``member enrol/unenrol`` live in sim/commands/enrol.py."""

from __future__ import annotations

from pathlib import Path

import click

from keepmum.errors import AudioDeviceError, CheckFailed, ConfigError, VaultError
from keepmum.files import guard_output_path, write_file
from sim.commands._common import (
    FiniteFloat,
    KeepmumCommand,
    KeepmumGroup,
    force_option,
    home_option,
    json_option,
    opened_vault,
    passphrase_file_option,
    read_passphrase,
    require_stdin,
    resolve_home,
    send_erasure_requests,
)
from sim.commands._output import Output, escape
from sim.commands.enrol import member_enrol, member_unenrol
from sim.config import write_default_config
from storage.index import name_key
from storage.keys import validate_member_name
from storage.vault import Vault
from storage.verify import verify_vault
from storage.wav import wav_to_pcm

__all__ = ["init", "member", "vault"]


def _when(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _gap(gap_ms: int | None) -> str:
    """The pause not kept, for ``vault list``: ``gap 1.24s``, or ``gap ?`` for a record stored
    before the vault measured it."""
    return "gap ?" if gap_ms is None else f"gap {gap_ms / 1000:.2f}s"


@click.command(cls=KeepmumCommand)
@click.option(
    "--member",
    "members",
    multiple=True,
    required=True,
    metavar="NAME",
    help="A household member (repeatable); the first is the default for recordings.",
)
@passphrase_file_option
@home_option
@json_option
def init(
    members: tuple[str, ...], passphrase_files: tuple[str, ...], home: Path | None, json_lines: bool
) -> None:
    """Create a device home: configuration, vault, and one identity per member."""
    out = Output(json_lines)
    folder = resolve_home(home)
    if Vault.exists(folder):
        raise VaultError(f"{folder}: already initialised (to add people: keepmum member add)")
    for name in members:
        validate_member_name(name)
    if len({name_key(m) for m in members}) != len(members):
        raise VaultError(f"--member: each name once, ignoring case, got {', '.join(members)}")
    # Every passphrase first, so that a typo or a missing file leaves nothing half made.
    passphrases = [read_passphrase(n, passphrase_files, confirm=True) for n in members]
    with Vault.create(folder) as v:
        write_default_config(folder)
        for name, passphrase in zip(members, passphrases, strict=True):
            m = v.add_member(name, passphrase)
            out.emit({"event": "member_added", "member": m.name, "recipient": m.recipient})
    out.emit({"event": "init", "home": str(folder), "members": list(members)})
    out.say(
        f"created {escape(folder)} with members {', '.join(members)}; recordings go to "
        f"{members[0]} unless --member says otherwise"
    )


@click.group(cls=KeepmumGroup)
def member() -> None:
    """The household's members and their keys."""


@member.command("add")
@click.argument("name")
@passphrase_file_option
@home_option
@json_option
def member_add(
    name: str, passphrase_files: tuple[str, ...], home: Path | None, json_lines: bool
) -> None:
    """Add a member with a new identity sealed by their passphrase."""
    out = Output(json_lines)
    validate_member_name(name)
    with opened_vault(home) as v:
        v.check_new_member(name)  # before asking for a passphrase
        m = v.add_member(name, read_passphrase(name, passphrase_files, confirm=True))
    out.emit({"event": "member_added", "member": m.name, "recipient": m.recipient})
    out.say(f"added {m.name} (recipient {m.recipient})")


@member.command("list")
@home_option
@json_option
def member_list(home: Path | None, json_lines: bool) -> None:
    """Members, what the vault holds of each, whether their voice is enrolled, and their public
    recipients."""
    out = Output(json_lines)
    with opened_vault(home, read_only=True) as v:  # only reads: works on a read-only home
        enrolled = {vp.member for vp in v.voiceprints()}
        for m in v.members():
            records = v.records(m.name)
            held_s = sum(r.duration_s for r in records)
            out.emit(
                {
                    "member": m.name,
                    "recipient": m.recipient,
                    "created": m.created,
                    "records": len(records),
                    "held_s": held_s,
                    "voice_enrolled": m.name in enrolled,
                }
            )
            voice = "voice" if m.name in enrolled else "-"
            out.say(
                f"{m.name:<16} {len(records):>4} records {held_s:8.1f} s  {voice:<5}  {m.recipient}"
            )


member.add_command(member_enrol)
member.add_command(member_unenrol)


@click.group(cls=KeepmumGroup)
def vault() -> None:
    """Look into and manage the encrypted vault."""


@vault.command("list")
@click.option("--member", "member_name", default=None, help="Only this member's records.")
@home_option
@json_option
def vault_list(member_name: str | None, home: Path | None, json_lines: bool) -> None:
    """Records' metadata (no key needed; the audio stays encrypted)."""
    out = Output(json_lines)
    with opened_vault(home, read_only=True) as v, v.snapshot():
        if member_name is not None:
            v.member(member_name)
        records = v.records(member_name)
    for r in records:
        out.emit(r.as_json())
        out.say(
            f"{r.id} {r.member:<8} {_when(r.start)[5:]} {r.duration_s:5.2f}s "
            f"{_gap(r.gap_ms)} {r.model} {r.score:.2f} exp {_when(r.expires)[5:16]}"
        )
    if not records:
        out.say("the vault is empty")


@vault.command("play")
@click.argument("record_id", metavar="ID")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the decrypted audio to this WAV file (mode 0600) instead of playing it.",
)
@force_option
@passphrase_file_option
@home_option
@json_option
def vault_play(
    record_id: str,
    out_file: Path | None,
    force: bool,
    passphrase_files: tuple[str, ...],
    home: Path | None,
    json_lines: bool,
) -> None:
    """Play a record (needs its member's passphrase)."""
    out = Output(json_lines)
    if out_file is not None:
        guard_output_path(out_file, home=resolve_home(home), option="--out", overwrite=force)
    with opened_vault(home) as v:
        meta = v.record(record_id)
        identity = v.unlock(meta.member, read_passphrase(meta.member, passphrase_files))
        wav = v.decrypt(meta.id, identity)
    if out_file is not None:
        _write_private(out_file, wav, force)
    else:
        _play(wav)
    out.emit(
        {
            "event": "played",
            "record": meta.id,
            "member": meta.member,
            "duration_s": meta.duration_s,
            "out": str(out_file) if out_file else None,
        }
    )
    out.say(
        f"{meta.id}: {meta.duration_s:.2f} s of {meta.member}'s audio "
        + (f"written to {escape(out_file)}" if out_file else "played")
    )


def _write_private(path: Path, data: bytes, force: bool) -> None:
    """Write decrypted audio the member asked for, readable by them only (mode 0600)."""
    try:
        write_file(path, data, overwrite=force)
    except FileExistsError:
        raise ConfigError(f"--out {path}: already exists; add --force to replace it") from None
    except OSError as exc:
        raise ConfigError(f"--out {path}: cannot be written ({exc.strerror})") from exc


def _play(wav: bytes) -> None:
    """Play WAV bytes on the default output device (PortAudio, imported only here)."""
    samples, info = wav_to_pcm(wav)
    try:
        import sounddevice as sd
    except OSError as exc:  # the PortAudio library is missing
        raise AudioDeviceError(f"cannot play audio ({exc}); use --out FILE.wav") from exc
    try:
        sd.play(samples, info.sample_rate)
        sd.wait()
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"cannot play audio ({exc}); use --out FILE.wav") from exc


@vault.command("delete")
@click.argument("record_id", metavar="ID")
@home_option
@json_option
def vault_delete(record_id: str, home: Path | None, json_lines: bool) -> None:
    """Delete one record now (its ciphertext and any queued copy)."""
    out = Output(json_lines)
    with opened_vault(home, withdrawal=True) as v:
        d = v.delete(record_id)
        out.emit(
            {"event": "deleted", "record": d.record, "member": d.member, "duration_s": d.duration_s}
        )
        out.say(f"deleted {d.record} ({d.member}, {d.duration_s:.2f} s)")
        send_erasure_requests(v, out)


@vault.command("purge")
@click.option(
    "--older-than-h",
    "older_than_h",
    type=FiniteFloat(min=0),
    default=None,
    metavar="H",
    help="Also delete every record stored H hours ago or more (shrinks the retention "
    "of what is kept; says what it deletes and asks first).",
)
@click.option(
    "--clock-is-right",
    is_flag=True,
    help="The clock is right now, although the vault has seen a later time (a clock that ran "
    "fast): judge expiry by it again; records stamped in the future expire (asks first).",
)
@click.option(
    "--yes", is_flag=True, help="With --older-than-h or --clock-is-right: do not ask first."
)
@home_option
@json_option
def vault_purge(
    older_than_h: float | None,
    clock_is_right: bool,
    yes: bool,
    home: Path | None,
    json_lines: bool,
) -> None:
    """Enforce expiry and capacity now; with --older-than-h, shorten what is kept."""
    out = Output(json_lines)
    if older_than_h is not None:
        if clock_is_right:
            raise click.UsageError("give --older-than-h or --clock-is-right, not both")
        _purge_older_than(out, older_than_h, yes, home)
        return
    with opened_vault(home, frees_space=True) as v:
        if clock_is_right:
            due = v.due_if_clock_is_right()
            out.say(f"taking the clock as right expires {due} record(s) now")
            if due and not yes:
                require_stdin("a confirmation", "add --yes to purge without asking")
                click.confirm(f"Delete these {due} record(s) for good?", abort=True, err=True)
        # Opening already purges; the explicit call also checkpoints the WAL file.
        result = v.purge(clock_is_right=clock_is_right)
    for d in result.all:
        out.emit(
            {"event": d.event, "record": d.record, "member": d.member, "duration_s": d.duration_s}
        )
    out.emit(
        {
            "event": "purge",
            "expired": len(result.expired),
            "capacity_deleted": len(result.capacity_deleted),
        }
    )
    out.say(f"expired {len(result.expired)}, deleted for capacity {len(result.capacity_deleted)}")


@vault.command("verify")
@click.option(
    "--member",
    "member_name",
    default=None,
    help="Also decrypt and check this member's records (needs their passphrase).",
)
@passphrase_file_option
@home_option
@json_option
def vault_verify(
    member_name: str | None, passphrase_files: tuple[str, ...], home: Path | None, json_lines: bool
) -> None:
    """Check every record; report every defect; exit 1 if there is any."""
    out = Output(json_lines)
    with opened_vault(home, read_only=True) as v:
        identity = None
        if member_name is not None:
            identity = v.unlock(member_name, read_passphrase(member_name, passphrase_files))
        report = verify_vault(v, member=member_name, identity=identity)
    for d in report.defects:
        out.emit({"event": "defect", "record": d.record, "problem": d.problem})
        out.say(f"[red]defect[/] {d}")
    out.emit(
        {
            "event": "verify",
            "ok": report.ok,
            "records": report.records,
            "decrypted": report.decrypted,
            "defects": len(report.defects),
            "bad_records": report.bad_records,
        }
    )
    if not report.ok:
        raise CheckFailed(
            f"vault verify: {len(report.defects)} defect(s) in {len(report.bad_records)} record(s)"
        )
    out.say(
        f"ok: {report.records} records checked"
        + (f", {report.decrypted} decrypted" if member_name else "")
    )


@vault.command("forget")
@click.argument("member_name", metavar="MEMBER")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@home_option
@json_option
def vault_forget(member_name: str, yes: bool, home: Path | None, json_lines: bool) -> None:
    """Destroy a member's identity and every record of theirs (crypto-shredding)."""
    out = Output(json_lines)
    with opened_vault(home, withdrawal=True) as v:
        if not yes:
            require_stdin("a confirmation", "add --yes to forget without asking")
            click.confirm(
                f"Destroy {member_name}'s key and every record of theirs, for good?",
                abort=True,
                err=True,
            )
        r = v.forget(member_name)
        out.emit(
            {
                "event": "forgotten",
                "member": r.member,
                "records": r.records,
                "seconds": r.seconds,
                "identity_shredded": r.identity_shredded,
            }
        )
        out.say(
            f"forgot {r.member}: identity destroyed, {r.records} records "
            f"({r.seconds:.1f} s) deleted"
        )
        send_erasure_requests(v, out)


def _purge_older_than(out: Output, hours: float, yes: bool, home: Path | None) -> None:
    """Say exactly what will be deleted, ask (unless --yes), then delete it."""
    with opened_vault(home, withdrawal=True) as v:
        due = v.older_than(hours)
        for r in due:
            out.emit(
                {
                    "event": "would_delete",
                    "record": r.id,
                    "member": r.member,
                    "duration_s": r.duration_s,
                    "created": r.created,
                }
            )
        seconds = sum(r.duration_s for r in due)
        members = ", ".join(sorted({r.member for r in due})) or "nobody"
        out.say(
            f"{len(due)} record(s) stored {hours:g} h ago or more ({seconds:.1f} s of "
            f"audio of {members}) will be deleted"
        )
        if due and not yes:
            click.confirm(f"Delete these {len(due)} record(s) for good?", abort=True, err=True)
        deleted = v.purge_older_than(hours) if due else []
    for d in deleted:
        out.emit(
            {"event": d.event, "record": d.record, "member": d.member, "duration_s": d.duration_s}
        )
    out.emit({"event": "purge", "older_than_h": hours, "deleted": len(deleted)})
    out.say(f"deleted {len(deleted)} record(s) stored {hours:g} h ago or more")
