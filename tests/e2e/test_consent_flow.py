"""A user grants consent for one recording, sees exactly it arrive at ``keepmum cloud serve``,
revokes, and sees nothing more leave: the real CLI, the real receiver, HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.e2e.cloud_fixtures import Cloud, _cloud, grant_args  # noqa: F401
from tests.e2e.conftest import run_keepmum
from tests.e2e.vault_fixtures import (  # noqa: F401
    StoredHome,
    _stored_home,
    _stored_template,
    _wake_recording,
    keepmum_ok,
    stored_ids,
)


def _uploaded_bytes(home: Path) -> int:
    report = keepmum_ok("report", "--home", home, "--json")
    return int(report.events[-1]["uploaded_bytes"])


def test_grant_one_record_see_it_arrive_revoke_see_nothing_more(
    stored_home: StoredHome, cloud: Cloud, tmp_path: Path
) -> None:
    home = stored_home.home
    # No grant by default: nothing leaves.
    nothing = keepmum_ok("upload", "--home", home, "--json")
    assert nothing.events == [] and nothing.other_lines == []
    assert cloud.received() == []
    assert keepmum_ok("consent", "list", "--home", home, "--json").events == []

    wanted = stored_home.alice[0]
    granted = keepmum_ok(
        *grant_args(
            home,
            cloud.url,
            stored_home.pass_arg("alice"),
            purpose="improve the wake word",
            records=[wanted],
            json_lines=True,
        )
    )
    (grant,) = granted.events
    assert {k: grant[k] for k in ("member", "purpose", "endpoint", "records", "queued")} == {
        "member": "alice",
        "purpose": "improve the wake word",
        "endpoint": cloud.url,
        "records": [wanted],
        "queued": 1,
    }
    assert grant["grant"].startswith("g-") and grant["recipient"] == cloud.recipient

    # --dry-run shows exactly what would leave, and sends nothing.
    dry = keepmum_ok("upload", "--home", home, "--dry-run", "--json")
    assert [(e["record"], e["grant"], e["endpoint"]) for e in dry.events] == [
        (wanted, grant["grant"], cloud.url)
    ]
    assert cloud.received() == []

    sent = keepmum_ok("upload", "--home", home, "--json")
    assert [(e["record"], e["grant"], e["endpoint"], e["bytes"]) for e in sent.events] == [
        (wanted, grant["grant"], cloud.url, dry.events[0]["bytes"])
    ]
    (arrived,) = cloud.received()
    assert (arrived["record"], arrived["member"], arrived["grant"]) == (
        wanted,
        "alice",
        grant["grant"],
    )
    assert arrived["bytes"] == sent.events[0]["bytes"] == _uploaded_bytes(home)
    # What arrived is exactly the recording the vault holds.
    played = tmp_path / "played.wav"
    keepmum_ok(
        "vault", "play", wanted, "--home", home, "--out", played, *stored_home.pass_arg("alice")
    )
    assert arrived["wav_sha256"] == hashlib.sha256(played.read_bytes()).hexdigest()
    assert keepmum_ok("upload", "--home", home, "--json").events == []  # sent once only

    # A second grant, revoked before upload: nothing more leaves.
    second = keepmum_ok(
        *grant_args(
            home,
            cloud.url,
            stored_home.pass_arg("alice"),
            purpose="p2",
            records=[stored_home.alice[1]],
            json_lines=True,
        )
    )
    gid = second.events[0]["grant"]
    revoked = run_keepmum("consent", "revoke", gid, "--home", home, "--json")  # no passphrase
    assert revoked.returncode == 0, revoked
    assert revoked.events[0]["status"] == "revoked" and revoked.events[0]["dropped_queued"] == 1
    assert keepmum_ok("upload", "--home", home, "--json").events == []
    assert len(cloud.received()) == 1
    assert _uploaded_bytes(home) == arrived["bytes"]
    listed = {e["grant"]: e for e in keepmum_ok("consent", "list", "--home", home, "--json").events}
    assert listed[gid]["status"] == "revoked" and listed[grant["grant"]]["uploaded"] == 1
    keepmum_ok("audit", "verify", "--home", home)


def test_all_future_grant_covers_new_records_of_its_member_only(
    stored_home: StoredHome, cloud: Cloud
) -> None:
    home = stored_home.home
    keepmum_ok(
        *grant_args(
            home,
            cloud.url,
            stored_home.pass_arg("bob"),
            member="bob",
            purpose="all",
            all_future=True,
            expires="7d",
        )
    )
    new_bob = stored_ids(
        keepmum_ok("replay", "--home", home, "--member", "bob", "--json", stored_home.recording)
    )
    new_alice = stored_ids(keepmum_ok("replay", "--home", home, "--json", stored_home.recording))
    assert new_bob and new_alice
    dry = keepmum_ok("upload", "--home", home, "--dry-run", "--json")
    assert sorted(e["record"] for e in dry.events) == sorted(new_bob)
    keepmum_ok("upload", "--home", home, "--json")
    assert sorted(r["record"] for r in cloud.received()) == sorted(new_bob)


def test_grant_needs_the_members_passphrase_and_a_scope(
    stored_home: StoredHome, cloud: Cloud, tmp_path: Path
) -> None:
    home = stored_home.home
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not alice's passphrase\n")
    refused = run_keepmum(
        *grant_args(
            home, cloud.url, ["--passphrase-file", f"alice={wrong}"], records=[stored_home.alice[0]]
        )
    )
    assert refused.returncode == 2 and "passphrase" in refused.stderr
    assert "Traceback" not in refused.stderr
    no_scope = run_keepmum(*grant_args(home, cloud.url, stored_home.pass_arg("alice")))
    assert no_scope.returncode == 2
    bobs = run_keepmum(
        *grant_args(home, cloud.url, stored_home.pass_arg("alice"), records=[stored_home.bob[0]])
    )
    assert bobs.returncode == 2 and "not a record of member 'alice'" in bobs.stderr
    assert keepmum_ok("consent", "list", "--home", home, "--json").events == []
    unknown = run_keepmum("consent", "revoke", "g-00000000", "--home", home)
    assert unknown.returncode == 2 and "no such grant" in unknown.stderr
