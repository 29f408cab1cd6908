"""The vault's commands, run for real: init, members, list, play, delete, purge, forget, verify,
report and audit, with the exit codes and JSON lines of the command-line contract."""

from __future__ import annotations

import sqlite3
import stat
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pyrage import x25519

from tests.conftest import require_tool
from tests.e2e.conftest import Result, run_keepmum
from tests.e2e.vault_fixtures import (  # noqa: F401
    PASSPHRASES,
    StoredHome,
    _stored_home,
    _stored_template,
    _unlocked,
    _wake_recording,
    ciphertext,
    init_home,
    keepmum_ok,
    key_file,
    write_passphrase_files,
)

Unlocked = Callable[[str], x25519.Identity]
LIST_KEYS = {"record", "member", "start", "duration_s", "model", "score", "expires", "gap_ms"}


def one_line_error(result: Result, code: int, *needles: str) -> None:
    assert result.returncode == code, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result
    for needle in needles:
        assert needle in lines[0], result


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_makes_a_private_home(stored_home: StoredHome) -> None:
    home = stored_home.home
    assert (home / "config.toml").is_file()
    assert _mode(home / "keys") == 0o700
    assert _mode(key_file(home, "alice")) == 0o600
    assert _mode(key_file(home, "bob")) == 0o600
    assert _mode(home / "vault.db") == 0o600
    members = keepmum_ok("member", "list", "--home", home, "--json").events
    assert [m["member"] for m in members] == ["alice", "bob"]
    assert all(m["recipient"].startswith("age1") for m in members)
    assert members[0]["records"] == len(stored_home.alice)


def test_init_refuses_an_existing_home_and_bad_input(
    stored_home: StoredHome, tmp_path: Path
) -> None:
    one_line_error(
        run_keepmum("init", "--home", stored_home.home, "--member", "carol"),
        2,
        "already initialised",
    )
    fresh = tmp_path / "fresh"
    one_line_error(
        run_keepmum(
            "init",
            "--home",
            fresh,
            "--member",
            "x",
            "--passphrase-file",
            f"x={tmp_path / 'missing.txt'}",
        ),
        2,
        "--passphrase-file x=...: no such passphrase file",  # the value is not echoed
    )
    assert not fresh.exists()  # passphrases are read before anything is made
    one_line_error(run_keepmum("init", "--home", fresh, "--member", "../evil"), 2, "member name")
    one_line_error(
        run_keepmum("init", "--home", fresh, "--member", "a", "--member", "a"), 2, "each name once"
    )
    (tmp_path / "empty").write_text("\n")
    one_line_error(
        run_keepmum(
            "init", "--home", fresh, "--member", "a", "--passphrase-file", f"a={tmp_path / 'empty'}"
        ),
        2,
        "empty",
    )


def test_member_add_prompts_twice_on_stdin(stored_home: StoredHome) -> None:
    result = keepmum_ok(
        "member",
        "add",
        "carol",
        "--home",
        stored_home.home,
        "--json",
        input="carol pass\ncarol pass\n",
    )
    assert result.of("member_added", member="carol")
    assert _mode(key_file(stored_home.home, "carol")) == 0o600
    keys_before = sorted((stored_home.home / "keys").iterdir())
    mismatch = run_keepmum("member", "add", "dave", "--home", stored_home.home, input="one\ntwo\n")
    assert mismatch.returncode != 0
    assert sorted((stored_home.home / "keys").iterdir()) == keys_before  # no key for dave


def test_vault_list_json_has_exactly_the_contract_keys(stored_home: StoredHome) -> None:
    rows = keepmum_ok("vault", "list", "--home", stored_home.home, "--json").events
    assert [r["record"] for r in rows] == stored_home.alice + stored_home.bob
    assert all(set(r) == LIST_KEYS and isinstance(r["gap_ms"], int) for r in rows)
    assert {r["member"] for r in rows} == {"alice", "bob"}
    assert all(r["model"] == "alexa" and 0.5 <= r["score"] <= 1 for r in rows)
    assert all(r["expires"] == pytest.approx(r["start"] + 24 * 3600, abs=120) for r in rows)
    only_bob = keepmum_ok(
        "vault", "list", "--member", "bob", "--home", stored_home.home, "--json"
    ).events
    assert [r["record"] for r in only_bob] == stored_home.bob


def test_play_out_writes_the_recorded_audio(stored_home: StoredHome, tmp_path: Path) -> None:
    rid = stored_home.alice[0]
    out = tmp_path / "played.wav"
    result = keepmum_ok(
        "vault",
        "play",
        rid,
        "--out",
        out,
        "--home",
        stored_home.home,
        *stored_home.pass_args,
        "--json",
    )
    (played,) = result.of("played")
    assert played["record"] == rid and played["member"] == "alice"
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert len(samples) / 16000 == pytest.approx(played["duration_s"])
    assert _mode(out) == 0o600  # decrypted audio stays private to its owner
    # The audio is a stretch of the input recording (the device pads 1 s of silence before it).
    raw = stored_home.pcm.tobytes()
    middle = samples[len(samples) // 2 : len(samples) // 2 + 64].tobytes()
    assert middle in raw


def test_play_out_to_a_missing_folder_is_bad_input(stored_home: StoredHome, tmp_path: Path) -> None:
    result = run_keepmum(
        "vault",
        "play",
        stored_home.alice[0],
        "--out",
        tmp_path / "no" / "x.wav",
        "--home",
        stored_home.home,
        *stored_home.pass_args,
    )
    one_line_error(result, 2, "does not exist")


def test_wrong_passphrase_is_one_line_exit_2(stored_home: StoredHome, tmp_path: Path) -> None:
    (tmp_path / "wrong").write_text("not alice's passphrase\n")
    result = run_keepmum(
        "vault",
        "play",
        stored_home.alice[0],
        "--out",
        tmp_path / "x.wav",
        "--home",
        stored_home.home,
        "--passphrase-file",
        f"alice={tmp_path / 'wrong'}",
    )
    one_line_error(result, 2, "wrong passphrase for member 'alice'")
    assert not (tmp_path / "x.wav").exists()


def test_world_readable_identity_is_refused(stored_home: StoredHome, tmp_path: Path) -> None:
    identity = key_file(stored_home.home, "alice")
    identity.chmod(0o644)
    args: list[str | Path] = [
        "vault",
        "play",
        stored_home.alice[0],
        "--out",
        tmp_path / "x.wav",
        "--home",
        stored_home.home,
        *stored_home.pass_args,
    ]
    one_line_error(run_keepmum(*args), 2, str(identity), "readable by group/others", "0644")
    identity.chmod(0o600)
    (stored_home.home / "keys").chmod(0o755)
    one_line_error(run_keepmum(*args), 2, "keys folder", "0755")
    assert not (tmp_path / "x.wav").exists()


def test_record_decrypts_with_the_standard_age_tool(
    stored_home: StoredHome, unlocked: Unlocked, tmp_path: Path
) -> None:
    age = require_tool("age")
    import subprocess

    rid = stored_home.bob[0]
    (tmp_path / "record.age").write_bytes(ciphertext(stored_home.home, rid))
    key = tmp_path / "key.txt"
    key.write_text(f"{unlocked('bob')}\n")
    key.chmod(0o600)
    proc = subprocess.run(
        [
            age,
            "-d",
            "-i",
            str(key),
            "-o",
            str(tmp_path / "by_age.wav"),
            str(tmp_path / "record.age"),
        ],
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    keepmum_ok(
        "vault",
        "play",
        rid,
        "--out",
        tmp_path / "by_keepmum.wav",
        "--home",
        stored_home.home,
        *stored_home.pass_args,
    )
    assert (tmp_path / "by_age.wav").read_bytes() == (tmp_path / "by_keepmum.wav").read_bytes()
    # And alice's key does not open bob's record.
    key.write_text(f"{unlocked('alice')}\n")
    proc = subprocess.run(
        [age, "-d", "-i", str(key), str(tmp_path / "record.age")], capture_output=True, check=False
    )
    assert proc.returncode != 0


def test_delete_and_verify_and_audit(stored_home: StoredHome) -> None:
    home = stored_home.home
    rid = stored_home.alice[0]
    deleted = keepmum_ok("vault", "delete", rid, "--home", home, "--json").of("deleted")
    assert deleted[0]["record"] == rid and deleted[0]["member"] == "alice"
    listed = [r["record"] for r in keepmum_ok("vault", "list", "--home", home, "--json").events]
    assert rid not in listed and len(listed) == len(stored_home.alice + stored_home.bob) - 1
    one_line_error(run_keepmum("vault", "delete", rid, "--home", home), 2, "no such record")
    verify = keepmum_ok("vault", "verify", "--home", home, "--json")
    assert verify.of("verify")[0]["ok"] is True
    chain = keepmum_ok("audit", "verify", "--home", home, "--json").of("audit_verify")[0]
    assert chain["ok"] is True
    shown = keepmum_ok("audit", "show", "--home", home, "--json", "--event", "deleted").events
    assert [e["record"] for e in shown if e.get("event") == "deleted"] == [rid]
    assert shown[-1]["event"] == "head" and shown[-1]["hash"] == chain["head"]


def test_verify_with_a_member_decrypts_their_records(stored_home: StoredHome) -> None:
    result = keepmum_ok(
        "vault",
        "verify",
        "--member",
        "bob",
        "--home",
        stored_home.home,
        *stored_home.pass_args,
        "--json",
    )
    summary = result.of("verify")[0]
    assert summary["ok"] and summary["decrypted"] == len(stored_home.bob)
    assert summary["records"] == len(stored_home.alice + stored_home.bob)


def test_tampering_is_named_by_verify_with_exit_1(stored_home: StoredHome) -> None:
    home = stored_home.home
    a, b = stored_home.alice[0], stored_home.bob[-1]
    conn = sqlite3.connect(home / "vault.db")
    ct = bytearray(ciphertext(home, a))
    ct[len(ct) // 2] ^= 0x10
    conn.execute("UPDATE records SET ciphertext = ? WHERE id = ?", (bytes(ct), a))
    conn.execute("UPDATE records SET duration_s = duration_s + 1 WHERE id = ?", (b,))
    conn.commit()
    conn.close()
    result = run_keepmum("vault", "verify", "--home", home, "--json")
    assert result.returncode == 1, result
    named = {d["record"] for d in result.of("defect")}
    assert named == {a, b}
    assert result.of("verify")[0]["bad_records"] == [a, b]
    assert "2 record(s)" in result.stderr
    # With the key, the damaged record is also reported as not decrypting.
    keyed = run_keepmum(
        "vault", "verify", "--member", "alice", "--home", home, *stored_home.pass_args, "--json"
    )
    assert keyed.returncode == 1 and a in {d["record"] for d in keyed.of("defect")}


def test_audit_tampering_is_found(stored_home: StoredHome) -> None:
    home = stored_home.home
    conn = sqlite3.connect(home / "vault.db")
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET member = 'mallory' WHERE seq = 3")
    conn.commit()
    conn.close()
    result = run_keepmum("audit", "verify", "--home", home, "--json")
    assert result.returncode == 1, result
    assert [d["seq"] for d in result.of("defect")] == [3]


def test_audit_verify_anchor_passes_an_intact_chain_and_finds_entries_cut_from_the_end(
    stored_home: StoredHome,
) -> None:
    home = stored_home.home
    noted = keepmum_ok("audit", "verify", "--home", home, "--json").of("audit_verify")[0]
    again = keepmum_ok("audit", "verify", "--anchor", noted["head"], "--home", home, "--json")
    assert again.of("audit_verify")[0] == {**noted, "ok": True, "defects": 0}
    keepmum_ok("vault", "delete", stored_home.alice[0], "--home", home)  # the chain grows on
    grown = keepmum_ok("audit", "verify", "--anchor", noted["head"], "--home", home, "--json")
    assert grown.of("audit_verify")[0]["entries"] == noted["entries"] + 1
    conn = sqlite3.connect(home / "vault.db")
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("DELETE FROM audit WHERE seq >= ?", (noted["entries"],))
    conn.commit()
    conn.close()
    # The head file beside the database refuses the shorter chain at open, and so does its
    # absence; someone who cuts the chain can write a head that fits it (adopt-head does just
    # that), and only an anchor kept elsewhere tells.
    (home / "audit.head").unlink()
    headless = run_keepmum("audit", "verify", "--anchor", noted["head"], "--home", home)
    assert headless.returncode == 2 and "adopt-head" in headless.stderr, headless
    keepmum_ok("audit", "adopt-head", "--yes", "--home", home)
    cut = run_keepmum("audit", "verify", "--anchor", noted["head"], "--home", home, "--json")
    assert cut.returncode == 1, cut
    (defect,) = cut.of("defect")
    assert defect["seq"] == 0 and noted["head"] in defect["problem"]
    assert run_keepmum("audit", "verify", "--home", home).returncode == 0  # valid, but shorter


def test_forget_shreds_one_member_and_leaves_the_others_readable(
    stored_home: StoredHome, tmp_path: Path
) -> None:
    home = stored_home.home
    bob_copy = ciphertext(home, stored_home.bob[0])
    bob_key = key_file(home, "bob")
    result = keepmum_ok("vault", "forget", "bob", "--yes", "--home", home, "--json")
    (gone,) = result.of("forgotten")
    assert gone["records"] == len(stored_home.bob) and gone["identity_shredded"] is True
    assert not bob_key.exists()
    listed = keepmum_ok("vault", "list", "--home", home, "--json").events
    assert [r["record"] for r in listed] == stored_home.alice
    alice_ok = keepmum_ok(
        "vault", "verify", "--member", "alice", "--home", home, *stored_home.pass_args, "--json"
    ).of("verify")[0]
    assert alice_ok["decrypted"] == len(stored_home.alice)
    one_line_error(
        run_keepmum("vault", "play", stored_home.bob[0], "--home", home, *stored_home.pass_args),
        2,
        "no such record",
    )
    assert bob_copy not in (home / "vault.db").read_bytes()
    one_line_error(
        run_keepmum("vault", "forget", "bob", "--yes", "--home", home), 2, "no such member"
    )
    report = keepmum_ok("report", "--home", home, "--json").of("report")[0]
    assert report["forgotten"] == len(stored_home.bob)
    assert report["members"]["bob"]["held"] == 0


def test_forget_asks_first(stored_home: StoredHome) -> None:
    result = run_keepmum("vault", "forget", "alice", "--home", stored_home.home, input="n\n")
    assert result.returncode != 0
    assert key_file(stored_home.home, "alice").exists()


def test_purge_enforces_a_lowered_capacity(stored_home: StoredHome) -> None:
    home = stored_home.home
    config = home / "config.toml"
    config.write_text(config.read_text().replace("capacity_s = 600.0", "capacity_s = 5.0"))
    result = keepmum_ok("vault", "purge", "--home", home, "--json")
    summary = result.of("purge")[0]
    # Opening already enforces it; purge reports what it found left to do (nothing).
    assert summary == {"event": "purge", "expired": 0, "capacity_deleted": 0}
    listed = keepmum_ok("vault", "list", "--home", home, "--json").events
    assert sum(r["duration_s"] for r in listed) <= 5.0
    assert listed and listed[-1]["record"] == stored_home.bob[-1]  # the newest survive
    report = keepmum_ok("report", "--home", home, "--json").of("report")[0]
    assert report["capacity_deleted"] == len(stored_home.alice + stored_home.bob) - len(listed)


def test_report_accounts_for_the_replays(stored_home: StoredHome) -> None:
    rep = keepmum_ok("report", "--home", stored_home.home, "--json").of("report")[0]
    n = len(stored_home.alice) + len(stored_home.bob)
    assert rep["runs"] == 2 and rep["wakes"] >= n
    assert rep["stored"] == n and rep["held"] == n
    assert rep["members"]["alice"]["stored"] == len(stored_home.alice)
    assert rep["members"]["bob"]["held"] == len(stored_home.bob)
    assert rep["heard_s"] > rep["kept_s"] > 0
    assert rep["stored_s"] == pytest.approx(rep["kept_s"], abs=0.01)
    assert rep["uploaded_bytes"] == 0
    human = keepmum_ok("report", "--home", stored_home.home)
    assert "held now" in human.stdout and "alice" in human.stdout


def test_retention_zero_keeps_nothing_but_reports(
    tmp_path: Path, wake_recording: tuple[Path, np.ndarray]
) -> None:
    home = tmp_path / "home"
    init_home(home, tmp_path / "pass", members=("alice",))
    config = home / "config.toml"
    config.write_text(config.read_text().replace("retention_h = 24.0", "retention_h = 0.0"))
    result = keepmum_ok("replay", "--home", home, "--json", wake_recording[0])
    assert result.summary["wakes"] >= 2
    assert result.of("stored") == []
    assert keepmum_ok("vault", "list", "--home", home, "--json").events == []
    conn = sqlite3.connect(home / "vault.db")
    assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 0
    conn.close()
    rep = keepmum_ok("report", "--home", home, "--json").of("report")[0]
    assert rep["stored"] == 0 and rep["not_stored"] == result.summary["utterances"] >= 2


def test_commands_without_a_home_say_run_init(tmp_path: Path) -> None:
    for args in (
        ["vault", "list"],
        ["vault", "verify"],
        ["audit", "show"],
        ["report"],
        ["member", "list"],
    ):
        one_line_error(run_keepmum(*args, "--home", tmp_path / "none"), 2, "keepmum init")


def _has_output_device() -> bool:
    try:
        import sounddevice as sd
    except OSError:  # no PortAudio library
        return False
    try:
        sd.query_devices(kind="output")
    except (sd.PortAudioError, ValueError):
        return False
    return True


@pytest.mark.sound_device
def test_play_through_the_sound_device(stored_home: StoredHome) -> None:
    from tests.conftest import require_system

    require_system(_has_output_device(), "an audio output device (PortAudio, e.g. PulseAudio)")
    result = keepmum_ok(
        "vault",
        "play",
        stored_home.bob[0],
        "--home",
        stored_home.home,
        *stored_home.pass_args,
        "--json",
    )
    (played,) = result.of("played")
    assert played["record"] == stored_home.bob[0] and played["out"] is None
