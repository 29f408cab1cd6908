"""Consent use-cases on a vault: grant named records, grant all future records, revoke.

Two ways into the upload queue, both needing no key the device keeps:

- :func:`grant_records` — the member unlocks; each named record is decrypted in RAM and
  re-encrypted to the endpoint's recipient, in the same transaction as the grant row.
- :func:`grant_all_future` — a grant row only; from then on every store of the vault encrypts
  the new record, whose plaintext it holds in RAM during the commit, to each live
  ``all_future`` grant of its member, inside the store's transaction
  (:func:`storage.ledger.queue_for_future_grants`).

:func:`revoke` deletes a grant's queued ciphertexts and appends the revoke row in one
transaction, so a revoke takes effect before the next byte is sent. The rows themselves (the
grants, the queue) are :mod:`storage.ledger`'s, below the vault.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from keepmum.errors import ConsentError
from storage.ledger import (
    SCOPE_ALL_FUTURE,
    SCOPE_RECORDS,
    Grant,
    QueuedUpload,
    append_grant,
    append_revoke,
    enqueue,
    get_grant,
)
from storage.vault import Vault

if TYPE_CHECKING:
    from pyrage.x25519 import Identity

__all__ = ["grant_all_future", "grant_records", "revoke"]


def grant_records(
    vault: Vault,
    *,
    member: str,
    identity: Identity,
    purpose: str,
    endpoint: str,
    recipient: str,
    record_ids: Sequence[str],
    expires: float | None = None,
    now: float | None = None,
) -> tuple[Grant, list[QueuedUpload]]:
    """Grant upload of named records of ``member`` and queue them, in one transaction.

    Each record must belong to ``member`` and decrypt with ``identity`` (the member unlocked it:
    the person consents, not the device); anything else aborts the grant with nothing written.
    """
    now = vault.clock() if now is None else now
    if not record_ids:
        raise ConsentError("records: expected at least one record id (or --all-future)")
    mine = {r.id: r for r in vault.records(member)}
    for rid in record_ids:
        if rid not in mine:
            raise ConsentError(f"record {rid!r}: not a record of member {member!r}")
    plaintexts = [(rid, vault.decrypt(rid, identity)) for rid in dict.fromkeys(record_ids)]
    with vault.transaction() as conn:
        grant = append_grant(
            conn,
            member=member,
            purpose=purpose,
            endpoint=endpoint,
            recipient=recipient,
            scope=SCOPE_RECORDS,
            records=[rid for rid, _ in plaintexts],
            expires=expires,
            now=now,
            audit=vault.audit,
        )
        items = [enqueue(conn, grant, rid, wav, now, vault.audit) for rid, wav in plaintexts]
    return grant, items


def grant_all_future(
    vault: Vault,
    *,
    member: str,
    purpose: str,
    endpoint: str,
    recipient: str,
    expires: float | None = None,
    now: float | None = None,
) -> Grant:
    """Grant upload of every record of ``member`` kept from now on (until revoked or expired).

    The caller must have unlocked the member first (the person consents); the grant itself needs
    no key, since future records are encrypted to the endpoint at commit, while still in RAM.
    """
    now = vault.clock() if now is None else now
    with vault.transaction() as conn:
        return append_grant(
            conn,
            member=member,
            purpose=purpose,
            endpoint=endpoint,
            recipient=recipient,
            scope=SCOPE_ALL_FUTURE,
            records=[],
            expires=expires,
            now=now,
            audit=vault.audit,
        )


def revoke(vault: Vault, grant_id: str, *, now: float | None = None) -> tuple[Grant, int]:
    """Revoke a grant: delete its queued ciphertexts and append the revoke row, atomically.

    Needs no passphrase (withdrawing consent must be as easy as giving it, GDPR art. 7(3)).
    Returns the grant as it was and how many queued items were dropped. Revoking an already
    revoked grant is refused with ConsentError, so scripts notice a wrong id.
    """
    now = vault.clock() if now is None else now
    with vault.transaction() as conn:
        grant = get_grant(conn, grant_id)
        if grant.revoked_at is not None:
            raise ConsentError(f"grant {grant_id!r}: already revoked at {grant.revoked_at:.0f}")
        dropped = append_revoke(conn, grant, now)
        vault.audit(
            conn, "consent_revoked", member=grant.member, grant=grant_id, dropped_queued=dropped
        )
    return grant, dropped
