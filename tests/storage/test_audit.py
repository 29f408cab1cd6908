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


def test_golden_bytes_are_sorted_compact_ascii_and_refuse_nan(conn: sqlite3.Connection) -> None:
    _seq, prev = audit.head(conn)
    entry = audit.append(conn, 2.5, "run", zeta=1, alpha="café", mid=[0.5, None])
    body = '[8,2.5,"run",null,null,{"alpha":"caf\\u00e9","mid":[0.5,null],"zeta":1}]'
    import hashlib

    assert entry.hash == hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()
    (stored,) = conn.execute("SELECT details FROM audit WHERE seq = 8").fetchone()
    assert stored == '{"alpha":"caf\\u00e9","mid":[0.5,null],"zeta":1}'
    assert audit.entries(conn)[-1].details == {"alpha": "café", "mid": [0.5, None], "zeta": 1}
    with pytest.raises(ValueError):  # no NaN in a hash, even past the detail checks
        audit.entry_hash(prev, 9, float("nan"), "run", None, None, {})


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


def test_an_intact_chain_passes_with_its_head_or_any_earlier_hash_as_anchor(
    conn: sqlite3.Connection,
) -> None:
    seq, head_hash = audit.head(conn)
    assert seq == 7 and head_hash == audit.entries(conn)[-1].hash
    assert audit.verify_chain(conn, anchor=head_hash) == []
    for entry in audit.entries(conn):
        assert audit.verify_chain(conn, anchor=entry.hash) == [], entry.seq
    # GENESIS is every chain's first prev but no entry's hash: not an anchor of this chain.
    (defect,) = audit.verify_chain(conn, anchor=audit.GENESIS)
    assert defect == audit.ChainDefect(
        0,
        f"anchor {audit.GENESIS} is not in the chain "
        "(entries removed from the end, or a different chain)",
    )


def test_an_empty_chain_is_intact_but_holds_no_anchor(tmp_path: Path) -> None:
    empty = connect(tmp_path / "empty.db", create=True)
    assert audit.head(empty) == (0, audit.GENESIS)
    assert audit.verify_chain(empty) == []
    assert [d.seq for d in audit.verify_chain(empty, anchor="ab" * 32)] == [0]
    first = audit.append(empty, 5, "run", heard_s=1.5)
    assert (first.seq, first.prev, first.at) == (1, audit.GENESIS, 5.0)
    assert isinstance(first.at, float)
    assert first.hash == audit.entry_hash(
        audit.GENESIS, 1, 5.0, "run", None, None, {"heard_s": 1.5}
    )
    assert audit.head(empty) == (1, first.hash)


def test_append_returns_what_it_stored(conn: sqlite3.Connection) -> None:
    _seq, prev = audit.head(conn)
    entry = audit.append(conn, AT + 20, "deleted", member="bob", record="r2", duration_s=0.5)
    assert entry == audit.entries(conn)[-1]
    assert entry == audit.AuditEntry(
        8, AT + 20, "deleted", "bob", "r2", {"duration_s": 0.5}, prev, entry.hash
    )
    assert entry.as_json() == {
        "seq": 8,
        "at": AT + 20,
        "event": "deleted",
        "member": "bob",
        "record": "r2",
        "details": {"duration_s": 0.5},
        "hash": entry.hash,
    }
    (stored,) = conn.execute("SELECT details FROM audit WHERE seq = 8").fetchone()
    assert stored == '{"duration_s":0.5}'  # canonical: sorted keys, no spaces


def test_a_tuple_is_recorded_as_the_list_it_holds(conn: sqlite3.Connection) -> None:
    entry = audit.append(conn, AT, "run", x=("a", 1, 2.5, None, True))
    assert entry.details == {"x": ["a", 1, 2.5, None, True]}
    assert audit.entries(conn)[-1].details == entry.details
    assert audit.verify_chain(conn) == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (float("inf"), "expected a finite number, got inf"),
        (float("-inf"), "expected a finite number, got -inf"),
        ((1.0, float("inf")), "expected a finite number, got inf"),
        ([0.5, float("nan")], "expected a finite number, got nan"),
        (("ok", b"\x00"), "expected a scalar or a list of scalars, got bytes"),
        ([{"a": 1}], "expected a scalar or a list of scalars, got dict"),
        ({1, 2}, "expected a scalar or a list of scalars, got set"),
        ("AGE-SECRET-KEY-1QQQ", "looks like an age secret key; not recorded"),
        (["fine", "age-secret-key-1qqq"], "looks like an age secret key; not recorded"),
    ],
)
def test_refused_details_say_why_and_append_nothing(
    conn: sqlite3.Connection, bad: object, message: str
) -> None:
    with pytest.raises(VaultError) as refused:
        audit.append(conn, AT, "run", x=bad)
    assert str(refused.value) == f"audit detail 'x': {message}"
    assert audit.head(conn)[0] == 7


@pytest.mark.parametrize("field", ["member", "record"])
def test_a_secret_key_is_refused_as_member_or_record(conn: sqlite3.Connection, field: str) -> None:
    with pytest.raises(VaultError, match=f"audit detail '{field}': looks like an age secret key"):
        audit.append(conn, AT, "stored", **{field: "AGE-SECRET-KEY-1ABC"})
    assert audit.head(conn)[0] == 7


def test_an_unknown_event_is_named_with_the_known_ones(conn: sqlite3.Connection) -> None:
    with pytest.raises(VaultError) as refused:
        audit.append(conn, AT, "listened_secretly")
    assert str(refused.value) == (
        f"audit event 'listened_secretly': not one of {sorted(audit.EVENTS)}"
    )
    assert audit.head(conn)[0] == 7


def test_defects_of_each_kind_are_named(conn: sqlite3.Connection, tmp_path: Path) -> None:
    raw = _raw(tmp_path / "vault.db")
    raw.execute("UPDATE audit SET prev = ? WHERE seq = 2", ("f" * 64,))
    raw.execute("UPDATE audit SET details = '[1, 2]' WHERE seq = 3")
    raw.execute("UPDATE audit SET event = 'listened_secretly' WHERE seq = 4")
    raw.execute("UPDATE audit SET seq = 9 WHERE seq = 6")
    problems = [(d.seq, d.problem) for d in audit.verify_chain(conn)]
    edited = "hash does not match the entry's content (entry edited)"
    assert problems == [
        (2, "prev hash does not match the previous entry"),
        (2, edited),
        (3, "details are not a JSON object"),
        (3, edited),
        (4, "unknown event 'listened_secretly'"),
        (4, edited),
        (7, "expected entry 6, found 7 (entries removed or inserted)"),
        (7, "prev hash does not match the previous entry"),  # entry 6 moved past it
        (9, "expected entry 8, found 9 (entries removed or inserted)"),
        (9, "prev hash does not match the previous entry"),
        (9, edited),
    ]


def test_unparseable_details_are_shown_not_hidden(conn: sqlite3.Connection, tmp_path: Path) -> None:
    raw = _raw(tmp_path / "vault.db")
    raw.execute("UPDATE audit SET details = 'not json' WHERE seq = 1")
    raw.execute("UPDATE audit SET details = '[1]' WHERE seq = 2")
    first, second = audit.entries(conn)[:2]
    assert first.details == {"_unparseable": "not json"}
    assert second.details == {"_unparseable": "[1]"}
    assert [(d.seq, d.problem) for d in audit.verify_chain(conn)][:1] == [
        (1, "details are not a JSON object")
    ]


def test_filters_combine(conn: sqlite3.Connection) -> None:
    audit.append(conn, AT + 10, "stored", member="bob", record="r2", duration_s=1.0)
    audit.append(conn, AT + 11, "deleted", member="alice", record="r1", duration_s=1.0)
    assert [e.seq for e in audit.entries(conn, event="stored", member="bob")] == [8]
    assert [e.seq for e in audit.entries(conn, member="alice", record="r1")] == [7, 9]
    assert [e.seq for e in audit.entries(conn, event="deleted", since_seq=8)] == [9]
    assert audit.entries(conn, event="stored", member="bob", record="r1") == []
    assert [e.event for e in audit.entries(conn, since_seq=7)] == ["stored", "deleted"]
