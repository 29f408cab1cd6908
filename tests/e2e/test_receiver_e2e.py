"""The receiver's token, the https rule and what an endpoint may not contain, end to end: the
real CLI, the real ``keepmum cloud serve`` in its own process, HTTP(S) on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import numpy as np
import pyrage
import pytest

from sim.cloud import CloudStore
from storage.upload import HttpClientTransport, HttpRequest
from storage.wav import pcm_to_wav
from storage.wire import HEADER_GRANT, HEADER_RECORD, HEADER_UPLOAD_ID
from tests.conftest import require_tool
from tests.e2e.cloud_fixtures import Cloud, _cloud, grant_args, start_cloud, stop_cloud  # noqa: F401
from tests.e2e.conftest import run_keepmum
from tests.e2e.vault_fixtures import (  # noqa: F401
    StoredHome,
    _stored_home,
    _stored_template,
    _wake_recording,
    keepmum_ok,
)

SECRET = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"


def _home_bytes(home: Path) -> bytes:
    """Everything in the device home, as one blob to search."""
    return b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())


def test_an_upload_without_the_receivers_token_is_refused_and_sent_once_the_grant_has_it(
    stored_home: StoredHome, cloud: Cloud, tmp_path: Path
) -> None:
    home, record = stored_home.home, stored_home.alice[0]
    wrong = tmp_path / "wrong-token.txt"
    wrong.write_text("kmr_not-the-token\n")
    args = grant_args(home, cloud.url, stored_home.pass_arg("alice"), records=[record])
    keepmum_ok(
        *grant_args(
            home, cloud.url, stored_home.pass_arg("alice"), records=[record], token_file=wrong
        )
    )
    refused = run_keepmum("upload", "--home", home, "--json")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert any("401" in str(e.get("detail", "")) for e in refused.events), refused
    assert cloud.received() == []
    # Granting again with the right token file: the device now sends it, for both grants.
    granted = keepmum_ok(*args, "--json")
    sent = keepmum_ok("upload", "--home", home, "--json")
    assert len(sent.events) == 2 and [e["record"] for e in cloud.received()] == [record] * 2
    # The token went nowhere it could not be taken back from: not the vault, not the output.
    assert cloud.token not in granted.stdout + granted.stderr + sent.stdout
    assert cloud.token.encode() not in (home / "vault.db").read_bytes()
    audit = keepmum_ok("audit", "verify", "--home", home, "--json")
    assert cloud.token not in audit.stdout


def test_credentials_in_the_endpoint_url_are_refused_and_kept_nowhere(
    stored_home: StoredHome, cloud: Cloud
) -> None:
    home = stored_home.home
    port = cloud.url.rsplit(":", 1)[1]
    before = _home_bytes(home)
    result = run_keepmum(
        *grant_args(
            home,
            f"http://user:hunter2@127.0.0.1:{port}",
            stored_home.pass_arg("alice"),
            all_future=True,
        )
    )
    assert result.returncode == 2, result
    assert (
        "credentials in the URL" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    )
    assert "hunter2" not in result.stdout + result.stderr
    assert b"hunter2" not in _home_bytes(home) and _home_bytes(home) == before


def test_a_secret_key_pasted_as_the_endpoint_is_refused_before_any_connection(
    stored_home: StoredHome,
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        for endpoint in (SECRET, f"http://127.0.0.1:{port}/{SECRET}"):
            result = run_keepmum(
                *grant_args(
                    stored_home.home, endpoint, stored_home.pass_arg("alice"), all_future=True
                )
            )
            assert result.returncode == 2, result
            assert "age secret key" in result.stderr
            assert "QQQQQQQQ" not in (result.stdout + result.stderr).upper()
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):  # nobody ever connected
            listener.accept()
    assert b"QQQQQQQQ" not in _home_bytes(stored_home.home).upper()


def test_cloud_list_reports_one_non_wav_upload_and_lists_the_rest(tmp_path: Path) -> None:
    store = CloudStore(tmp_path / "cloud")
    recipient = pyrage.x25519.Recipient.from_str(store.recipient)
    store.receive(pyrage.encrypt(b"not a wav at all", [recipient]), {HEADER_RECORD: "r-bad"})
    wav = pcm_to_wav(np.zeros(1600, dtype=np.int16))
    store.receive(pyrage.encrypt(wav, [recipient]), {HEADER_RECORD: "r-good"})
    plain = run_keepmum("cloud", "list", "--store", store.folder)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr, plain
    assert "#2 record r-good" in plain.stdout
    assert [ln for ln in plain.stdout.splitlines() if "r-bad" in ln] == [
        next(ln for ln in plain.stdout.splitlines() if ln.startswith("#1 record r-bad"))
    ]
    as_json = run_keepmum("cloud", "list", "--store", store.folder, "--json")
    assert as_json.returncode == 1
    assert [e.get("event", e.get("record")) for e in as_json.events] == ["unreadable", "r-good"]


def _openssl(*args: str | Path) -> None:
    subprocess.run([require_tool("openssl"), *map(str, args)], check=True, capture_output=True)


def _test_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA made for this test, and a certificate for 127.0.0.1 it signed: (ca, cert, key)."""
    ca_key, ca, key, csr, cert = (
        folder / n for n in ("ca.key", "ca.pem", "k.pem", "c.csr", "c.pem")
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        ca_key,
        "-out",
        ca,
        "-days",
        "2",
        "-subj",
        "/CN=keepmum test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    _openssl("req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    ext = folder / "ext.cnf"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca,
        "-CAkey",
        ca_key,
        "-CAcreateserial",
        "-out",
        cert,
        "-days",
        "2",
        "-extfile",
        ext,
    )
    return ca, cert, key


@pytest.mark.system
def test_https_is_checked_against_the_ca_given_at_grant_time(
    stored_home: StoredHome, tmp_path: Path
) -> None:
    (tmp_path / "tls").mkdir()
    ca, cert, key = _test_ca(tmp_path / "tls")
    cloud = start_cloud(tmp_path / "cloud", "--tls-cert", cert, "--tls-key", key)
    try:
        home, record = stored_home.home, stored_home.alice[0]
        base = grant_args(
            home,
            cloud.url,
            stored_home.pass_arg("alice"),
            records=[record],
            token_file=cloud.token_file,
        )
        # Not signed by a CA of the system store: refused, one line, nothing granted.
        untrusted = run_keepmum(*base)
        assert untrusted.returncode != 0 and "Traceback" not in untrusted.stderr, untrusted
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
        assert keepmum_ok("consent", "list", "--home", home, "--json").events == []
        keepmum_ok(*base, "--ca-file", ca)
        sent = keepmum_ok("upload", "--home", home, "--json")
        assert [e["endpoint"] for e in sent.events] == [cloud.url]
        assert [e["record"] for e in cloud.received()] == [record]
    finally:
        stop_cloud(cloud)


def test_a_captured_upload_sent_again_after_its_confirmed_erasure_is_refused(
    stored_home: StoredHome, cloud: Cloud
) -> None:
    home, record = stored_home.home, stored_home.alice[0]
    keepmum_ok(*grant_args(home, cloud.url, stored_home.pass_arg("alice"), records=[record]))
    keepmum_ok("upload", "--home", home)
    (arrived,) = cloud.received()
    # What a wire capture holds: the body and the headers the device sent.
    captured = (cloud.store / "received" / f"{arrived['number']}.age").read_bytes()
    headers = {
        "Authorization": f"Bearer {cloud.token}",
        HEADER_GRANT: arrived["grant"],
        HEADER_RECORD: record,
        HEADER_UPLOAD_ID: arrived["upload_id"],
    }
    deleted = keepmum_ok("vault", "delete", record, "--home", home, "--json")
    assert any(e.get("confirmed") is True for e in deleted.events), deleted
    assert cloud.received() == []
    replayed = HttpClientTransport(timeout_s=20)(
        HttpRequest("POST", cloud.url + "/upload", headers, captured)
    )
    assert replayed.status == 410, replayed
    assert cloud.received() == []


def test_a_grant_to_this_users_own_receiver_finds_its_token_and_no_other_receiver_gets_it(
    stored_home: StoredHome, cloud: Cloud, tmp_path: Path
) -> None:
    """The README's commands, without --endpoint-token-file: the token of the receiver in the
    default folder is used only for an endpoint that publishes that receiver's recipient."""
    home, record = stored_home.home, stored_home.alice[0]
    args = ["consent", "grant", "--home", home, "--member", "alice", "--purpose", "p"]
    args += ["--endpoint", cloud.url, "--record", record, *stored_home.pass_arg("alice")]
    elsewhere = CloudStore(tmp_path / "another-receiver")  # not the one serving at cloud.url
    other = keepmum_ok(*args, env={"KEEPMUM_CLOUD_DATA": str(elsewhere.folder)})
    assert "using the token" not in other.stdout
    refused = run_keepmum("upload", "--home", home, "--json")
    assert refused.returncode != 0 and cloud.received() == []
    assert not (home / "endpoint-access.json").exists()
    own = keepmum_ok(*args, env={"KEEPMUM_CLOUD_DATA": str(cloud.store)})
    assert f"using the token of this user's receiver: {cloud.token_file}" in own.stdout
    keepmum_ok("upload", "--home", home)
    assert [e["record"] for e in cloud.received()] == [record, record]
