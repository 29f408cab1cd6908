"""Secrets never enter a record: refused at input, refused by the audit chain, redacted in
every message the command line prints."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from pyrage import x25519

from keepmum.errors import ConfigError, ConsentError, VaultError
from sim.cli import main
from storage import audit
from storage.index import connect
from storage.ledger import parse_recipient
from storage.redact import looks_secret, redact, refuse_secret

SECRET = str(x25519.Identity.generate())
PUBLIC = str(x25519.Identity.generate().to_public())


# Named ids: the key is new in every process, and the test processes (pytest-xdist) must all
# collect the same test names.
@pytest.mark.parametrize(
    "value",
    [SECRET, SECRET.lower(), f"  {SECRET}\n", f"x={SECRET};"],
    ids=["upper", "lower", "padded", "inside"],
)
def test_secret_keys_are_recognised_in_any_case_and_context(value: str) -> None:
    assert looks_secret(value)
    with pytest.raises(ConfigError, match="--recipient: this is an age secret key") as info:
        refuse_secret(value, "--recipient")
    assert SECRET.lower() not in str(info.value).lower()
    assert SECRET.lower() not in redact(value).lower()


def test_public_recipients_pass_untouched() -> None:
    assert not looks_secret(PUBLIC)
    assert refuse_secret(PUBLIC, "--recipient") == PUBLIC
    assert redact(f"to {PUBLIC}") == f"to {PUBLIC}"


def test_parse_recipient_refuses_a_secret_without_echoing_it() -> None:
    with pytest.raises((ConfigError, ConsentError)) as info:
        parse_recipient(SECRET, "--recipient")
    assert "secret key" in str(info.value) and SECRET not in str(info.value)


def test_the_audit_chain_refuses_a_secret_anywhere_in_an_entry(tmp_path: Path) -> None:
    conn = connect(tmp_path / "vault.db", create=True)
    for kwargs in (
        {"reason": f"bad {SECRET}"},
        {"member": SECRET.lower()},
        {"record": "r", "names": ["a", SECRET]},
    ):
        with pytest.raises(VaultError, match="looks like an age secret key") as info:
            audit.append(conn, 1.0, "export_refused", **kwargs)
        assert SECRET.lower() not in str(info.value).lower()
    assert audit.entries(conn) == []
    assert SECRET.encode() not in (tmp_path / "vault.db").read_bytes()
    conn.close()


def test_the_command_line_redacts_a_secret_echoed_by_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # click echoes an invalid choice back; the secret must not reach the terminal.
    with pytest.raises(SystemExit) as info:
        main(["audit", "show", "--home", "/nonexistent", SECRET])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "AGE-SECRET-KEY-1...(redacted)" in err and SECRET.lower() not in err.lower()


def test_sqlite_file_is_clean_after_a_refused_append(tmp_path: Path) -> None:
    conn = connect(tmp_path / "vault.db", create=True)
    with pytest.raises(VaultError):
        audit.append(conn, 1.0, "discarded", reason=SECRET)
    conn.close()
    raw = sqlite3.connect(tmp_path / "vault.db")
    assert raw.execute("SELECT count(*) FROM audit").fetchone()[0] == 0
    raw.close()
