"""What one `keepmum upload` run costs per record as the queue grows (not a test: a figure).

Makes a throwaway vault with an all-future grant, stores N half-second records (each queued for
the grant), and uploads them through a transport that answers 201 without a network, then
prints the time and SQL statements per record. Run from the repository root:

    .venv/bin/python scripts/upload_cost.py 100 300 600 --dir /dev/shm
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyrage import x25519

from storage.consent import grant_all_future
from storage.settings import VaultSettings
from storage.upload import HttpRequest, HttpResponse, Uploader
from storage.vault import Vault
from tests.storage.vault_fixtures import T0, FakeClock, utterance


def _accept(request: HttpRequest) -> HttpResponse:
    return HttpResponse(201, b"{}", len(request.body))


def measure(records: int, folder: str | None) -> str:
    """One line: records sent, seconds, ms and SQL statements per record."""
    home = Path(tempfile.mkdtemp(prefix="keepmum-upload-cost-", dir=folder)) / "home"
    clock = FakeClock(T0)
    settings = VaultSettings(capacity_s=10_000_000)
    with Vault.create(home, settings, clock=clock) as vault:
        vault.add_member("alice", "upload cost passphrase")
    with Vault.open(home, settings, clock=clock) as vault:
        endpoint = "http://127.0.0.1:9"
        recipient = str(x25519.Identity.generate().to_public())
        grant_all_future(vault, member="alice", purpose="p", endpoint=endpoint, recipient=recipient)
        for seed in range(records):
            clock.advance(1)
            vault.store(utterance(0.5, seed=seed, started_at=clock()), "alice")
        statements = 0

        def count(_sql: str) -> None:
            nonlocal statements
            statements += 1

        vault.connection.set_trace_callback(count)
        started = time.perf_counter()
        sent = Uploader(vault, transport=_accept).upload()
        took = time.perf_counter() - started
    return (
        f"N={records} sent={len(sent)} {took:.2f} s, {took / records * 1000:.1f} ms/record, "
        f"{statements / records:.0f} SQL statements/record"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=int, nargs="+", help="queue sizes to measure")
    parser.add_argument("--dir", default=None, help="where the throwaway vaults go")
    args = parser.parse_args()
    for n in args.records:
        print(measure(n, args.dir))


if __name__ == "__main__":
    main()
