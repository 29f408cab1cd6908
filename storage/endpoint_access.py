"""What the device needs to reach an endpoint, learned when a grant is made: token and CA.

A receiver answers only callers that show its bearer token (docs/security/receiver.md); an
``https://`` endpoint may have its certificate checked against a CA of its own instead of the
system store. ``keepmum consent grant --endpoint-token-file F --ca-file F`` stores both here,
per endpoint, and every upload and erasure request to that endpoint sends them::

    HOME/endpoint-access.json   (0600)  {"https://host:8765": {"token": "...", "ca_pem": "..."}}

Kept out of the vault on purpose: the audit chain is append-only and exported, and a token in
it could never be taken back; this file is replaced whole when a grant changes it, and never
printed. Whoever can read the device home can read it (as they can read the queue).
"""

from __future__ import annotations

import json
import ssl
from dataclasses import asdict, dataclass
from pathlib import Path

from keepmum.errors import ConfigError, VaultError
from keepmum.files import write_file
from storage.private import check_private

__all__ = [
    "ACCESS_FILE",
    "EndpointAccess",
    "load_access",
    "read_ca_file",
    "read_token_file",
    "remember_access",
]

ACCESS_FILE = "endpoint-access.json"
MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class EndpointAccess:
    """How to reach one endpoint: its bearer token and the CA its certificate is checked by."""

    token: str = ""
    ca_pem: str = ""
    """PEM certificates to trust for this endpoint instead of the system store ("" for it)."""

    def headers(self) -> dict[str, str]:
        """The request headers that carry the token (none without one)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def load_access(home: Path) -> dict[str, EndpointAccess]:
    """Every endpoint's access in ``home`` ({} without the file); VaultError if unreadable."""
    path = home / ACCESS_FILE
    if not path.exists():
        return {}
    check_private(path, "endpoint access", folder=False)
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): EndpointAccess(str(v["token"]), str(v["ca_pem"])) for k, v in found.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VaultError(f"{path}: not an endpoint access file ({exc})") from exc


def remember_access(home: Path, endpoint: str, access: EndpointAccess) -> None:
    """Store ``access`` for ``endpoint`` in ``home``, keeping what it leaves empty."""
    known = load_access(home)
    old = known.get(endpoint, EndpointAccess())
    known[endpoint] = EndpointAccess(access.token or old.token, access.ca_pem or old.ca_pem)
    text = json.dumps({k: asdict(v) for k, v in sorted(known.items())}, indent=1)
    write_file(home / ACCESS_FILE, text.encode("utf-8"), overwrite=True)


def _read_small(path: Path, option: str) -> str:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot read it ({exc.strerror or exc})") from exc
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{option} {path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise ConfigError(f"{option} {path}: expected ASCII text") from None


def read_token_file(path: Path) -> str:
    """The receiver token in ``path`` (one word on one line); ConfigError naming the file."""
    words = _read_small(path, "--endpoint-token-file").split()
    if len(words) != 1 or not words[0].isprintable():
        raise ConfigError(
            f"--endpoint-token-file {path}: expected one token on one line, got {len(words)} words"
        )
    return words[0]


def read_ca_file(path: Path) -> str:
    """PEM CA certificates from ``path``, checked to load; ConfigError naming the file."""
    pem = _read_small(path, "--ca-file")
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"--ca-file {path}: not PEM CA certificates ({exc})") from exc
    return pem
