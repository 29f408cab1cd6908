"""Which endpoints the device will send to, and what it keeps to reach them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keepmum.errors import ConfigError, ConsentError, UploadError, VaultError
from storage.endpoint_access import (
    ACCESS_FILE,
    EndpointAccess,
    load_access,
    read_ca_file,
    read_token_file,
    remember_access,
)
from storage.ledger import validate_endpoint
from storage.upload import HttpClientTransport, HttpRequest

SECRET = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"


@pytest.mark.parametrize(
    "ok",
    [
        "http://127.0.0.1:8765",
        "http://127.8.9.10:1",
        "http://localhost:8765",
        "http://[::1]:8765",
        "https://receiver.example:8443",
        "https://192.0.2.7",
    ],
)
def test_loopback_may_use_http_and_anything_may_use_https(ok: str) -> None:
    assert validate_endpoint(ok + "/") == ok


@pytest.mark.parametrize(
    "far", ["http://192.0.2.7:8765", "http://receiver.example", "http://10.0.0.1:80"]
)
def test_plain_http_off_this_machine_is_refused(far: str) -> None:
    with pytest.raises(ConsentError, match=r"plain http:// is only for this machine"):
        validate_endpoint(far)


@pytest.mark.parametrize(
    "url", ["http://user:hunter2@127.0.0.1:8765", "https://hunter2@receiver.example"]
)
def test_credentials_in_the_url_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ConsentError, match="credentials in the URL") as caught:
        validate_endpoint(url)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "url", [SECRET, f"http://127.0.0.1:8765/{SECRET}", f"https://h/{SECRET.lower()}"]
)
def test_a_secret_key_in_the_endpoint_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ConsentError, match="age secret key") as caught:
        validate_endpoint(url)
    assert "QQQQQQ" not in str(caught.value).upper()


def test_the_transport_itself_refuses_http_off_loopback() -> None:
    # A grant row written straight into the vault skips validate_endpoint; the wire does not.
    with pytest.raises(UploadError, match="only for loopback"):
        HttpClientTransport(timeout_s=1)(HttpRequest("POST", "http://192.0.2.7:9/upload"))


def test_access_is_kept_per_endpoint_private_and_merged(tmp_path: Path) -> None:
    assert load_access(tmp_path) == {}
    remember_access(tmp_path, "http://127.0.0.1:1", EndpointAccess("kmr_a"))
    remember_access(tmp_path, "https://h:2", EndpointAccess("kmr_b", "PEM"))
    remember_access(tmp_path, "https://h:2", EndpointAccess("kmr_c"))  # the CA stays
    assert load_access(tmp_path) == {
        "http://127.0.0.1:1": EndpointAccess("kmr_a"),
        "https://h:2": EndpointAccess("kmr_c", "PEM"),
    }
    assert (tmp_path / ACCESS_FILE).stat().st_mode & 0o777 == 0o600
    assert EndpointAccess("kmr_a").headers() == {"Authorization": "Bearer kmr_a"}
    assert EndpointAccess().headers() == {}


def test_a_broken_access_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ACCESS_FILE).write_text(json.dumps({"http://x": {"token": 1}}))
    (tmp_path / ACCESS_FILE).chmod(0o600)
    with pytest.raises(VaultError, match="not an endpoint access file"):
        load_access(tmp_path)


def test_token_and_ca_files_are_checked(tmp_path: Path) -> None:
    token = tmp_path / "token.txt"
    token.write_text("kmr_abc\n")
    assert read_token_file(token) == "kmr_abc"
    token.write_text("two words\n")
    with pytest.raises(ConfigError, match="expected one token"):
        read_token_file(token)
    with pytest.raises(ConfigError, match="cannot read it"):
        read_token_file(tmp_path / "missing")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match="not PEM CA certificates"):
        read_ca_file(ca)
