"""Every redirection of audio is detected, without any passphrase, by the real CLI: a member's
recipient or a grant changed in vault.db (`vault verify`, exit 1; a replay refuses to store), an
older vault.db restored (refused at open, exit 1), a home others can write (exit 2), and a
reused member name (the new member's export, opened with `age`, holds nothing of the old)."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import tarfile
from pathlib import Path

from pyrage import x25519

from tests.conftest import require_tool
from tests.e2e.cloud_fixtures import grant_args, identity_file
from tests.e2e.conftest import run_keepmum
from tests.e2e.test_vault_cli import one_line_error
from tests.e2e.vault_fixtures import (  # noqa: F401
    StoredHome,
    _stored_home,
    _stored_template,
    _wake_recording,
    keepmum_ok,
    stored_ids,
    write_passphrase_files,
)

ATTACKER = str(x25519.Identity.generate().to_public())


def _sql(home: Path, sql: str, *args: object) -> None:
    raw = sqlite3.connect(home / "vault.db", isolation_level=None)
    try:
        raw.execute(sql, args)
    finally:
        raw.close()


def test_a_redirected_recipient_fails_verify_and_is_never_used(stored_home: StoredHome) -> None:
    home = stored_home.home
    _sql(home, "UPDATE members SET recipient = ? WHERE name = 'alice'", ATTACKER)
    verify = run_keepmum("vault", "verify", "--home", home, "--json")
    assert verify.returncode == 1, verify
    problems = [e["problem"] for e in verify.events if e.get("event") == "defect"]
    assert any("member 'alice': recipient" in p for p in problems), verify
    replay = run_keepmum("replay", "--home", home, "--json", stored_home.recording)
    assert replay.returncode == 1 and "member 'alice': recipient" in replay.stderr, replay
    assert not replay.of("stored")
    assert ATTACKER not in json.dumps(keepmum_ok("vault", "list", "--home", home, "--json").events)


def test_an_inserted_grant_fails_verify(stored_home: StoredHome) -> None:
    home = stored_home.home
    _sql(
        home,
        "INSERT INTO consent_events (kind, grant_id, member, purpose, endpoint, recipient,"
        " scope, records, expires, at) VALUES ('grant', 'g-0badc0de', 'alice', 'p', "
        "'http://127.0.0.1:9', ?, 'all_future', '[]', NULL, 0)",
        ATTACKER,
    )
    verify = run_keepmum("vault", "verify", "--home", home, "--json")
    assert verify.returncode == 1, verify
    assert any("grant g-0badc0de" in e.get("problem", "") for e in verify.events), verify


def test_a_restored_older_database_is_refused_at_open(
    stored_home: StoredHome, tmp_path: Path
) -> None:
    home = stored_home.home
    backup = tmp_path / "vault.db.bak"
    shutil.copy2(home / "vault.db", backup)
    keepmum_ok("vault", "delete", stored_home.alice[0], "--home", home)
    shown = keepmum_ok("audit", "show", "--home", home, "--json")
    (head,) = shown.of("head")
    assert head["head_file_seq"] == head["seq"] and head["head_file_hash"] == head["hash"]
    shutil.copy2(backup, home / "vault.db")  # the deleted record is back
    for args in (("vault", "list"), ("vault", "verify"), ("audit", "verify")):
        one_line_error(run_keepmum(*args, "--home", home), 1, "rolled back", "audit.head")


def test_a_home_others_can_write_is_refused(stored_home: StoredHome) -> None:
    home = stored_home.home
    home.chmod(0o777)
    one_line_error(
        run_keepmum("vault", "list", "--home", home),
        2,
        str(home),
        "writable by group/others",
        "chmod 755",
    )


def test_a_reused_name_is_a_new_person(stored_home: StoredHome, tmp_path: Path) -> None:
    home = stored_home.home
    old_bob = stored_home.bob
    keepmum_ok(
        *grant_args(
            home,
            "http://127.0.0.1:9",
            stored_home.pass_arg("bob"),
            member="bob",
            purpose="old bob",
            all_future=True,
            recipient=ATTACKER,
        )
    )
    keepmum_ok("vault", "forget", "bob", "--yes", "--home", home)
    new_pass = write_passphrase_files(tmp_path / "newpass", {"bob": "the new bob's passphrase"})
    keepmum_ok("member", "add", "bob", "--home", home, *new_pass)
    mixed = run_keepmum("member", "add", "BOB", "--home", home, *new_pass)
    assert mixed.returncode == 2 and "ignoring case" in mixed.stderr, mixed
    new = stored_ids(
        keepmum_ok("replay", "--home", home, "--member", "bob", "--json", stored_home.recording)
    )
    out = tmp_path / "bob.age"
    keepmum_ok("export", "--home", home, "--member", "bob", "--out", out, *new_pass)
    # The new bob opens it with the standard tool and his own identity.
    age = require_tool("age")
    key = identity_file(home, "bob", "the new bob's passphrase", tmp_path / "bob.txt")
    plain = subprocess.run(
        [age, "-d", "-i", str(key), str(out)], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert [r["record"] for r in manifest["records"]] == new
    assert manifest["consents"] == [] and manifest["uploads"] == []
    text = json.dumps(manifest)
    assert "old bob" not in text and ATTACKER not in text
    assert not any(rid in text for rid in old_bob)
    keepmum_ok("vault", "verify", "--home", home)
