"""What the audit chain promised about members and grants, checked against the tables.

The ``members`` and ``consent_events`` rows decide where future audio goes: a member's recipient
is what every new record is encrypted to, a grant's recipient and endpoint what queued copies
are encrypted to and sent to. Changing either row would redirect audio without any key, so each
is bound by an audit entry written in the same transaction that made it:

- a member by its latest ``member_added`` (or, for members older than schema version 2,
  ``member_migrated``) entry: ``recipient`` and ``member_id``; a ``forgotten`` entry after it
  means the row should not exist;
- a grant by its ``consent_granted`` entry: member, purpose, endpoint, scope, records, expiry
  and (for grants made by this keepmum on) the recipient; a ``consent_revoked`` entry means the
  ledger must show it revoked.

Every check needs no key. The vault runs :func:`member_problems` before it first encrypts to a
member in a process (so a redirected recipient is refused, not used); the store runs
:func:`grant_refusal` before it encrypts a copy to a grant's recipient, and the uploader before
it sends to a grant's endpoint (issue 26: an inserted or altered grant is refused, not used);
``vault verify`` runs all of them and reports each mismatch as a defect.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from storage import audit as audit_chain
from storage.audit import AuditEntry

__all__ = [
    "BINDING_EVENTS",
    "grant_problems",
    "grant_problems_by_id",
    "grant_refusal",
    "member_binding",
    "member_problems",
]

BINDING_EVENTS = ("member_added", "member_migrated")
"""Audit events that bind a member's name to its id and recipient."""


def member_binding(conn: sqlite3.Connection, name: str) -> AuditEntry | None:
    """The latest entry that bound ``name`` to an id and recipient (None if there is none)."""
    found = None
    for event in BINDING_EVENTS:
        for entry in audit_chain.entries(conn, event=event, member=name):
            if found is None or entry.seq > found.seq:
                found = entry
    return found


def member_problems(
    conn: sqlite3.Connection, name: str, recipient: str, member_id: str | None
) -> list[str]:
    """How the ``members`` row of ``name`` differs from what the chain recorded (empty: none)."""
    binding = member_binding(conn, name)
    if binding is None:
        return [
            f"member {name!r}: no member_added entry in the audit chain (a row inserted "
            "behind keepmum's back?)"
        ]
    problems = []
    if binding.details.get("recipient") != recipient:
        problems.append(
            f"member {name!r}: recipient {recipient[:20]}... differs from the one the audit "
            f"chain recorded at creation (entry {binding.seq}): future records would go to "
            "someone else"
        )
    bound_id = binding.details.get("member_id")
    if bound_id is not None and bound_id != member_id:
        problems.append(
            f"member {name!r}: id {member_id!r} differs from {bound_id!r} in the "
            f"audit chain (entry {binding.seq})"
        )
    if member_id is None:
        problems.append(f"member {name!r}: has no member id")
    later = [
        e.seq
        for e in audit_chain.entries(conn, event="forgotten", member=name, since_seq=binding.seq)
    ]
    if later:
        problems.append(
            f"member {name!r}: was forgotten (audit entry {later[0]}) but is back "
            "in the members table"
        )
    return problems


_GRANT_FIELDS = ("member", "purpose", "endpoint", "scope", "records", "expires")


def _ledger_grants(
    conn: sqlite3.Connection,
) -> tuple[dict[str, dict[str, Any]], set[str], list[str]]:
    """The ledger's grants by id, the revoked ids, and the ids that appear twice."""
    grants: dict[str, dict[str, Any]] = {}
    revoked: set[str] = set()
    duplicated: list[str] = []
    rows = conn.execute(
        "SELECT kind, grant_id, member, purpose, endpoint, recipient, scope, records, expires "
        "FROM consent_events ORDER BY seq"
    ).fetchall()
    for kind, gid, member, purpose, endpoint, recipient, scope, records, expires in rows:
        if kind == "revoke":
            revoked.add(str(gid))
            continue
        if gid in grants:
            duplicated.append(str(gid))
        try:
            parsed = json.loads(records)
        except (TypeError, ValueError):
            parsed = records
        grants[str(gid)] = {
            "member": member,
            "purpose": purpose,
            "endpoint": endpoint,
            "recipient": recipient,
            "scope": scope,
            "records": parsed,
            "expires": expires,
        }
    return grants, revoked, duplicated


def grant_problems_by_id(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """How each grant of the consent ledger differs from the chain's ``consent_granted`` and
    ``consent_revoked`` entries, by grant id (a grant without problems is not in the map).

    The one check for grants: ``vault verify`` reports every problem, and the device refuses a
    grant with any before it encrypts to its recipient or sends to its endpoint
    (:func:`grant_refusal`)."""
    grants, revoked, duplicated = _ledger_grants(conn)
    problems: dict[str, list[str]] = {}

    def add(gid: str, problem: str) -> None:
        problems.setdefault(gid, []).append(problem)

    for gid in duplicated:
        add(gid, f"grant {gid}: appears twice in the consent ledger")
    granted: dict[str, AuditEntry] = {}
    chain_revoked: dict[str, int] = {}
    for entry in audit_chain.entries(conn, event="consent_granted"):
        bound_id = entry.details.get("grant")
        if isinstance(bound_id, str):
            granted.setdefault(bound_id, entry)
    for entry in audit_chain.entries(conn, event="consent_revoked"):
        revoked_id = entry.details.get("grant")
        if isinstance(revoked_id, str):
            chain_revoked.setdefault(revoked_id, entry.seq)
    for gid, row in grants.items():
        bound = granted.get(gid)
        if bound is None:
            add(
                gid,
                f"grant {gid}: in the consent ledger but no consent_granted entry in "
                "the audit chain (a row inserted behind keepmum's back?)",
            )
            continue
        recorded = {"member": bound.member, **bound.details}
        recorded.setdefault("records", [])
        for key in (*_GRANT_FIELDS, "recipient"):
            if key == "recipient" and key not in bound.details:
                continue  # granted before keepmum recorded recipients in the chain
            if recorded.get(key) != row[key]:
                add(gid, f"grant {gid}: {key} differs from the audit chain (entry {bound.seq})")
        if gid in chain_revoked and gid not in revoked:
            add(
                gid,
                f"grant {gid}: revoked in the audit chain (entry "
                f"{chain_revoked[gid]}) but live in the consent ledger",
            )
    for gid in granted:
        if gid not in grants:
            add(gid, f"grant {gid}: granted in the audit chain but missing from the consent ledger")
    return problems


def grant_problems(conn: sqlite3.Connection) -> list[str]:
    """Every problem :func:`grant_problems_by_id` finds, grant after grant (for verify)."""
    return [p for found in grant_problems_by_id(conn).values() for p in found]


def grant_refusal(conn: sqlite3.Connection, grant_id: str) -> str | None:
    """Why the grant ``grant_id`` must not be used (its first problem), None if it is bound."""
    found = grant_problems_by_id(conn).get(grant_id)
    return found[0] if found else None
