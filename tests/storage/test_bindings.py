"""Audio cannot be redirected without notice: a member's recipient or a grant changed in the
database, a rolled-back database, a home others can write, a name reused by someone new.

Every check here needs no passphrase: `vault verify` and opening the vault see it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import tarfile
from pathlib import Path

import pyrage
import pytest
from pyrage import x25519

from keepmum.errors import IntegrityError, PermissionsError, VaultError
from storage import audit
from storage.chainhead import HEAD_FILE, read_head
from storage.consent import grant_all_future, revoke
from storage.export import export_member
from storage.vault import Vault
from storage.verify import verify_vault
from tests.storage.vault_fixtures import FakeClock, open_vault, utterance

ATTACKER = str(x25519.Identity.generate().to_public())
ENDPOINT = "http://127.0.0.1:9"


def _raw(home: Path) -> sqlite3.Connection:
    """What someone with write access to vault.db does, behind keepmum's back."""
    return sqlite3.connect(home / "vault.db", isolation_level=None)


def _problems(home: Path, clock: FakeClock) -> list[str]:
    with open_vault(home, clock) as v:
        report = verify_vault(v)
    return [str(d) for d in report.defects]


def test_an_untouched_vault_has_no_binding_defects(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        grant_all_future(v, member="alice", purpose="p", endpoint=ENDPOINT, recipient=ATTACKER)
        v.store(utterance(0.1), "alice")
    assert _problems(home, clock) == []


def test_a_redirected_recipient_is_a_defect_and_nothing_is_encrypted_to_it(
    home: Path, clock: FakeClock
) -> None:
    raw = _raw(home)
    raw.execute("UPDATE members SET recipient = ? WHERE name = 'alice'", (ATTACKER,))
    raw.close()
    problems = _problems(home, clock)
    assert any("member 'alice': recipient" in p and "differs" in p for p in problems), problems
    with open_vault(home, clock) as v:
        with pytest.raises(IntegrityError, match="member 'alice': recipient") as info:
            v.store(utterance(0.1), "alice")
        assert info.value.exit_code == 1
        assert v.records("alice") == []
        assert v.store(utterance(0.1), "bob") is not None  # bob's row is intact


def test_an_inserted_all_future_grant_row_is_a_defect(home: Path, clock: FakeClock) -> None:
    raw = _raw(home)
    raw.execute(
        "INSERT INTO consent_events (kind, grant_id, member, purpose, endpoint, recipient, scope,"
        " records, expires, at) VALUES ('grant', 'g-evil0001', 'alice', 'p', ?, ?, "
        "'all_future', '[]', NULL, ?)",
        (ENDPOINT, ATTACKER, clock()),
    )
    raw.close()
    problems = _problems(home, clock)
    assert any("grant g-evil0001" in p and "no consent_granted entry" in p for p in problems)


def test_a_grant_redirected_to_another_recipient_is_a_defect(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        grant = grant_all_future(
            v,
            member="alice",
            purpose="p",
            endpoint=ENDPOINT,
            recipient=str(x25519.Identity.generate().to_public()),
        )
    raw = _raw(home)
    raw.execute("DROP TRIGGER consent_events_no_update")
    raw.execute(
        "UPDATE consent_events SET recipient = ? WHERE grant_id = ?", (ATTACKER, grant.grant_id)
    )
    raw.close()
    problems = _problems(home, clock)
    assert any(f"grant {grant.grant_id}: recipient differs" in p for p in problems), problems


def test_a_restored_older_database_is_refused_at_open(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        grant = grant_all_future(
            v, member="alice", purpose="p", endpoint=ENDPOINT, recipient=ATTACKER
        )
    backup = home.parent / "vault.db.bak"
    shutil.copy2(home / "vault.db", backup)  # closed: the WAL was checkpointed into the file
    with open_vault(home, clock) as v:
        revoke(v, grant.grant_id)
    recorded = read_head(home / HEAD_FILE)
    assert recorded is not None
    shutil.copy2(backup, home / "vault.db")  # the revoke is undone: the grant lives again
    with pytest.raises(IntegrityError, match="rolled back") as info:
        Vault.open(home, clock=clock)
    assert info.value.exit_code == 1
    assert str(home / HEAD_FILE) in str(info.value)


def test_the_head_file_follows_every_committed_entry(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        v.store(utterance(0.1), "bob")
        assert read_head(home / HEAD_FILE) == audit.head(v.connection)
    assert os.stat(home / HEAD_FILE).st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("where", "mode"), [("", 0o777), ("", 0o770), ("keys", 0o722), ("vault.db", 0o666)]
)
def test_a_home_others_can_write_is_refused_before_anything_is_read(
    home: Path, clock: FakeClock, where: str, mode: int
) -> None:
    target = home / where if where else home
    target.chmod(mode)
    with pytest.raises(PermissionsError, match="writable by group/others") as info:
        Vault.open(home, clock=clock)
    assert info.value.exit_code == 2 and str(target) in str(info.value)


def test_names_are_unique_ignoring_case_and_match_exactly(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        with pytest.raises(VaultError, match="'alice' already exists"):
            v.add_member("ALICE", "another passphrase")
        with pytest.raises(VaultError, match="did you mean 'alice'"):
            v.forget("Alice")
        assert [m.name for m in v.members()] == ["alice", "bob"]
        assert v.keys.path(v.member("alice").id).exists()


def test_a_reused_name_is_a_new_person_whose_export_holds_nothing_of_the_old(
    home: Path, clock: FakeClock, tmp_path: Path
) -> None:
    with open_vault(home, clock) as v:
        old = v.member("bob")
        old_record = v.store(utterance(0.1, seed=1), "bob")
        old_grant = grant_all_future(
            v, member="bob", purpose="old bob's", endpoint=ENDPOINT, recipient=ATTACKER
        )
        v.forget("bob")
        clock.advance(10)
        new = v.add_member("bob", "new bob's passphrase")
        assert new.id != old.id and new.recipient != old.recipient
        assert v.keys.path(v.member("bob").id).name == f"{new.id}.identity.age"
        new_record = v.store(utterance(0.1, seed=2), "bob")
        out = tmp_path / "bob.age"
        export_member(v, member="bob", passphrase="new bob's passphrase", out=out)
        identity = v.unlock("bob", "new bob's passphrase")
    plain = pyrage.decrypt(out.read_bytes(), [identity])
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert [r["record"] for r in manifest["records"]] == [new_record]
    assert manifest["consents"] == [] and manifest["uploads"] == []
    text = json.dumps(manifest)
    for trace in (old_record, old_grant.grant_id, old.id, old.recipient, "old bob's"):
        assert str(trace) not in text
    assert {e["event"] for e in manifest["audit"]} >= {"member_added", "stored"}
    assert "forgotten" not in {e["event"] for e in manifest["audit"]}
    assert _problems(home, clock) == []
