"""The audit chain: appends link by hash; any edit, insertion or removal is found."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from keepmum.errors import VaultError
from storage import audit
from storage.index import connect

AT = 1_700_000_000.0


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    c = connect(tmp_path / "vault.db", create=True)
    for i in range(6):
        audit.append(
            c,
            AT + i,
            "discarded",
            reason="no_speech",
            duration_s=0.5 * i,
            model="m",
            source="a.wav",
        )
    audit.append(
        c,
        AT + 9,
        "stored",
        member="alice",
        record="r1",
        duration_s=1.0,
        grants=["g1", "g2"],
        expires=None,
        ok=True,
    )
    return c


def _raw(path: Path) -> sqlite3.Connection:
    """A connection that edits the table behind keepmum's back (triggers dropped first)."""
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("DROP TRIGGER audit_no_update")
    raw.execute("DROP TRIGGER audit_no_delete")
    return raw


def test_an_untouched_chain_verifies(conn: sqlite3.Connection) -> None:
    assert audit.verify_chain(conn) == []
    entries = audit.entries(conn)
    assert [e.seq for e in entries] == list(range(1, 8))
    assert entries[0].prev == audit.GENESIS
    assert all(b.prev == a.hash for a, b in itertools.pairwise(entries))
    assert entries[-1].details == {
        "duration_s": 1.0,
        "grants": ["g1", "g2"],
        "expires": None,
        "ok": True,
    }


def test_golden_hash_of_a_first_entry() -> None:
    # These bytes must not change silently: old chains would stop verifying.
    digest = audit.entry_hash(audit.GENESIS, 1, 1.5, "run", None, None, {"heard_s": 2.0})
    body = '[1,1.5,"run",null,null,{"heard_s":2.0}]'
    import hashlib

    assert digest == hashlib.sha256(f"{'0' * 64}\n{body}".encode()).hexdigest()


def test_sqlite_refuses_update_and_delete(conn: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET event = 'run' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit WHERE seq = 2")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("at", AT + 0.001),
        ("event", "run"),
        ("member", "bob"),
        ("record", "r9"),
        ("details", '{"duration_s":0.5,"model":"m","reason":"no_speech","source":"b.wav"}'),
    ],
)
def test_an_edited_entry_is_named(
    conn: sqlite3.Connection, tmp_path: Path, column: str, value: object
) -> None:
    _raw(tmp_path / "vault.db").execute(f"UPDATE audit SET {column} = ? WHERE seq = 2", (value,))
    defects = audit.verify_chain(conn)
    assert [d.seq for d in defects] == [2]
    assert "edited" in defects[0].problem


def test_an_edited_entry_with_recomputed_hash_breaks_the_next_link(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    e = audit.entries(conn)[2]
    forged = audit.entry_hash(e.prev, e.seq, e.at, "run", e.member, e.record, e.details)
    _raw(tmp_path / "vault.db").execute(
        "UPDATE audit SET event = 'run', hash = ? WHERE seq = 3", (forged,)
    )
    assert [d.seq for d in audit.verify_chain(conn)] == [4]


def test_a_removed_entry_is_found(conn: sqlite3.Connection, tmp_path: Path) -> None:
    _raw(tmp_path / "vault.db").execute("DELETE FROM audit WHERE seq = 4")
    defects = audit.verify_chain(conn)
    assert {d.seq for d in defects} == {5}
    assert any("removed" in d.problem for d in defects)


def test_removal_from_the_end_needs_an_anchor(conn: sqlite3.Connection, tmp_path: Path) -> None:
    _seq, anchor = audit.head(conn)
    _raw(tmp_path / "vault.db").execute("DELETE FROM audit WHERE seq = 7")
    assert audit.verify_chain(conn) == []  # a shorter chain is still a valid chain ...
    defects = audit.verify_chain(conn, anchor=anchor)  # ... but not the one recorded earlier
    assert [d.seq for d in defects] == [0] and "anchor" in defects[0].problem


def test_every_flipped_byte_of_an_entry_is_found(conn: sqlite3.Connection, tmp_path: Path) -> None:
    raw = _raw(tmp_path / "vault.db")
    (details,) = raw.execute("SELECT details FROM audit WHERE seq = 7").fetchone()
    for i in range(len(details)):
        flipped = details[:i] + chr(ord(details[i]) ^ 1) + details[i + 1 :]
        raw.execute("UPDATE audit SET details = ? WHERE seq = 7", (flipped,))
        assert {d.seq for d in audit.verify_chain(conn)} == {7}, (i, flipped)
    raw.execute("UPDATE audit SET details = ? WHERE seq = 7", (details,))
    assert audit.verify_chain(conn) == []


@pytest.mark.parametrize("bad", [b"\x00\x01", np.zeros(4, dtype=np.int16), {"a": 1}, float("nan")])
def test_details_that_could_carry_audio_are_refused(conn: sqlite3.Connection, bad: object) -> None:
    with pytest.raises(VaultError, match="audit detail 'x'"):
        audit.append(conn, AT, "run", x=bad)


def test_unknown_events_are_refused(conn: sqlite3.Connection) -> None:
    with pytest.raises(VaultError, match="not one of"):
        audit.append(conn, AT, "listened_secretly")


def test_filters(conn: sqlite3.Connection) -> None:
    assert [e.seq for e in audit.entries(conn, event="stored")] == [7]
    assert [e.seq for e in audit.entries(conn, member="alice")] == [7]
    assert [e.seq for e in audit.entries(conn, record="r1")] == [7]
    assert [e.seq for e in audit.entries(conn, since_seq=5)] == [6, 7]
    assert audit.head(conn)[0] == 7
