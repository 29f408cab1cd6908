"""``keepmum consent grant / revoke / list``: the consent ledger, from the command line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from keepmum.errors import ConsentError
from sim.commands._common import (
    KeepmumGroup,
    home_option,
    json_option,
    opened_vault,
    passphrase_file_option,
    read_passphrase,
)
from sim.commands._output import Output
from sim.commands.cloud import local_receiver_token
from storage.bindings import grant_problems_by_id
from storage.consent import grant_all_future, grant_records, revoke
from storage.endpoint_access import (
    EndpointAccess,
    load_access,
    read_ca_file,
    read_token_file,
    remember_access,
)
from storage.ledger import QueuedUpload, get_grant, grants, queued, validate_endpoint
from storage.upload import fetch_recipient
from storage.vault import Vault
from storage.wire import is_loopback_host

__all__ = ["consent", "parse_duration_s"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration_s(text: str) -> float:
    """``30m``, ``12h``, ``7d``, ``90s`` (or sums like ``1d12h``) in seconds; ConsentError else."""
    compact = text.replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ConsentError(f"--expires {text!r}: expected a duration such as 30m, 12h, 7d or 1d12h")
    seconds = sum(float(n) * _UNIT_S[u] for n, u in parts)
    if seconds <= 0:
        raise ConsentError(f"--expires {text!r}: expected a duration above zero")
    return seconds


@click.group(cls=KeepmumGroup)
def consent() -> None:
    """The consent ledger: nothing leaves the device without a live grant."""


@consent.command()
@click.option("--member", required=True, help="Whose recordings (that member gives consent).")
@click.option("--purpose", required=True, help="What the data is for, as the member agreed.")
@click.option(
    "--endpoint", required=True, help="Base URL of the receiver (e.g. http://127.0.0.1:8765)."
)
@click.option(
    "--record",
    "record_ids",
    multiple=True,
    metavar="ID",
    help="A record to send (repeatable; a unique prefix of 6+ digits is enough).",
)
@click.option("--all-future", is_flag=True, help="Every record of the member kept from now on.")
@click.option(
    "--expires",
    default=None,
    metavar="DURATION",
    help="End the grant after this long (30m, 12h, 7d); default: until revoked.",
)
@click.option(
    "--recipient",
    default=None,
    metavar="AGE_RECIPIENT",
    help="The endpoint's age recipient (default: fetched from ENDPOINT/recipient).",
)
@click.option(
    "--endpoint-token-file",
    "token_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The receiver's token (its token.txt); sent with every upload and erasure request "
    "to this endpoint, kept in HOME/endpoint-access.json, never in the audit chain.",
)
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PEM CA certificate(s) to check this https endpoint by, instead of the system store.",
)
@passphrase_file_option
@home_option
@json_option
def grant(
    member: str,
    purpose: str,
    endpoint: str,
    record_ids: tuple[str, ...],
    all_future: bool,
    expires: str | None,
    recipient: str | None,
    token_file: Path | None,
    ca_file: Path | None,
    passphrase_files: tuple[str, ...],
    home: Path | None,
    json_lines: bool,
) -> None:
    """Consent to send a member's records (named, or all future ones) to one endpoint."""
    out = Output(json_lines)
    if bool(record_ids) == all_future:
        raise click.UsageError("give either --record ID (one or more) or --all-future")
    endpoint = validate_endpoint(endpoint)
    access = EndpointAccess(
        read_token_file(token_file) if token_file is not None else "",
        read_ca_file(ca_file) if ca_file is not None else "",
    )
    if ca_file is not None and not endpoint.startswith("https://"):
        raise ConsentError(f"--ca-file: only for an https:// endpoint, not {endpoint}")
    expires_s = parse_duration_s(expires) if expires is not None else None
    with opened_vault(home) as vault:
        vault.member(member)  # unknown member: refuse before asking for anything
        ids = [vault.resolve_id(r) for r in record_ids]
        # The endpoint's key first: an unreachable endpoint fails before anyone types anything.
        known = load_access(vault.home).get(endpoint, EndpointAccess())
        reach = EndpointAccess(access.token or known.token, access.ca_pem or known.ca_pem)
        target = recipient if recipient is not None else fetch_recipient(endpoint, None, reach)
        if not reach.token and is_loopback_host(urlsplit(endpoint).hostname or ""):
            # The demo's path: this user's own receiver, found by the recipient it publishes.
            local = local_receiver_token(target)
            if local is not None:
                access = EndpointAccess(read_token_file(local), access.ca_pem)
                out.say_plain(f"using the token of this user's receiver: {local}")
        identity = vault.unlock(member, read_passphrase(member, passphrase_files))
        if access != EndpointAccess():
            remember_access(vault.home, endpoint, access)  # before the grant that will use it
        now = vault.now()
        expires_at = now + expires_s if expires_s is not None else None
        if all_future:
            new = grant_all_future(
                vault,
                member=member,
                purpose=purpose,
                endpoint=endpoint,
                recipient=target,
                expires=expires_at,
                now=now,
            )
            items: list[QueuedUpload] = []
        else:
            new, items = grant_records(
                vault,
                member=member,
                identity=identity,
                purpose=purpose,
                endpoint=endpoint,
                recipient=target,
                record_ids=ids,
                expires=expires_at,
                now=now,
            )
        queued_bytes = sum(len(i.ciphertext) for i in items)
        out.emit({**new.as_json(now), "queued": len(items), "queued_bytes": queued_bytes})
        what = "every future record" if all_future else f"{len(items)} record(s)"
        out.say_plain(
            f"grant {new.grant_id}: {member} consents to send {what} to {new.endpoint} "
            f"for {purpose!r}; queued {len(items)} ({queued_bytes} bytes). "
            f"Nothing leaves until `keepmum upload`; undo with `keepmum consent revoke "
            f"{new.grant_id}`."
        )


@consent.command("revoke")
@click.argument("grant_id", metavar="GRANT")
@home_option
@json_option
def revoke_cmd(grant_id: str, home: Path | None, json_lines: bool) -> None:
    """Withdraw a grant now: its queue is emptied before anything else can be sent."""
    out = Output(json_lines)
    with opened_vault(home, withdrawal=True) as vault:
        old, dropped = revoke(vault, grant_id)
        revoked = get_grant(vault.connection, grant_id)
        out.emit({**revoked.as_json(vault.now()), "dropped_queued": dropped})
    out.say_plain(
        f"grant {grant_id} revoked ({old.member}, {old.endpoint}); "
        f"{dropped} queued item(s) deleted, nothing more will be sent"
    )


def _row(vault: Vault, g: Any, now: float, refused: list[str] | None) -> dict[str, Any]:
    conn = vault.connection
    sent = conn.execute(
        "SELECT count(*), coalesce(sum(bytes), 0) FROM uploads WHERE grant_id = ?", (g.grant_id,)
    ).fetchone()
    waiting = queued(conn, g.grant_id)
    return {
        **g.as_json(now),
        "queued": len(waiting),
        "uploaded": int(sent[0]),
        "uploaded_bytes": int(sent[1]),
        # Not bound in the audit chain as the ledger shows it: never used (issue 26).
        "refused": refused[0] if refused else None,
    }


@consent.command("list")
@click.option("--member", default=None, help="Only this member's grants.")
@home_option
@json_option
def list_grants(member: str | None, home: Path | None, json_lines: bool) -> None:
    """Every grant ever given, with its state, queue and bytes sent."""
    out = Output(json_lines)
    with opened_vault(home, read_only=True) as vault, vault.snapshot():
        now = vault.now()  # a clock set back shows no revoked or expired grant as live
        unbound = grant_problems_by_id(vault.connection)
        rows = [
            _row(vault, g, now, unbound.get(g.grant_id))
            for g in grants(vault.connection)
            if member is None or g.member == member
        ]
    for row in rows:
        out.emit(row)
        scope = (
            "all future records"
            if row["scope"] == "all_future"
            else f"records {', '.join(row['records'])}"
        )
        out.say_plain(
            f"{row['grant']} [{row['status']}] {row['member']} -> {row['endpoint']} "
            f"for {row['purpose']!r}: {scope}; queued {row['queued']}, "
            f"sent {row['uploaded']} ({row['uploaded_bytes']} bytes)"
            + (f"; REFUSED, never used: {row['refused']}" if row["refused"] else "")
        )
    if not rows:
        out.say_plain("no consent given: nothing leaves this device")
