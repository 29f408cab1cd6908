"""Crash safety: SIGKILL at random moments while storing; after each, the vault verifies clean and
every record is whole (decrypts to audio matching its metadata) or absent."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pyrage import x25519

from storage import audit
from storage.settings import VaultSettings
from storage.vault import Vault
from storage.verify import verify_vault
from storage.wav import wav_to_pcm
from tests.e2e.conftest import keepmum_command
from tests.e2e.vault_fixtures import (  # noqa: F401
    PASSPHRASES,
    _wake_recording,
    init_home,
    keepmum_ok,
)

pytestmark = pytest.mark.slow

STORE_LOOP = """
import sys
from pathlib import Path
import numpy as np
from device.utterance import Utterance
from storage.settings import VaultSettings
from storage.vault import Vault

home = Path(sys.argv[1])
with Vault.open(home, VaultSettings(capacity_s=3.0)) as v:
    for seed in range(int(sys.argv[2]), 10**9):
        n = 1600 + (seed * 797) % 8000
        pcm = np.random.default_rng(seed).integers(-20000, 20000, n, dtype=np.int16)
        u = Utterance(pcm, 0.0, 1.7e9 + seed, "alexa", 0.9, "silence", f"seed{seed}")
        rid = v.store(u, "alice")
        print(seed, rid, flush=True)
"""


def _check_whole_or_absent(
    home: Path, identity: x25519.Identity, settings: VaultSettings | None = None
) -> int:
    """Verify with the key; every record decrypts to exactly its metadata. Returns #records."""
    with Vault.open(home, settings) as v:
        report = verify_vault(v, member="alice", identity=identity)
        assert report.ok, report.defects
        assert report.decrypted == report.records
        for meta in v.records():
            samples, info = wav_to_pcm(v.decrypt(meta.id, identity))
            assert len(samples) == meta.samples and info.sample_rate == 16000
        return report.records


def _printed_are_kept_or_audited(home: Path, printed: list[str]) -> None:
    """A record announced as stored is in the vault, unless the audit says why it is not."""
    with Vault.open(home, VaultSettings(capacity_s=1e9)) as v:
        present = {m.id for m in v.records()}
        gone = {
            e.record
            for e in audit.entries(v.connection)
            if e.event in ("capacity_deleted", "expired", "deleted")
        }
    missing = [r for r in printed if r not in present and r not in gone]
    assert missing == []


@pytest.fixture(scope="module")
def alice_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, x25519.Identity]:
    base = tmp_path_factory.mktemp("crash")
    home = base / "home"
    init_home(home, base / "pass", members=("alice",))
    with Vault.open(home) as v:
        identity = v.unlock("alice", PASSPHRASES["alice"])
    return home, identity


def test_sigkill_during_a_store_loop(alice_home: tuple[Path, x25519.Identity]) -> None:
    home, identity = alice_home
    rng = random.Random(20240607)
    seed = 0
    total_printed = 0
    for kill in range(10):
        proc = subprocess.Popen(
            [sys.executable, "-c", STORE_LOOP, str(home), str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        delay = rng.uniform(0.4, 1.4)
        time.sleep(delay)  # not a timed assertion: just a random moment to kill at
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, f"kill {kill}: exited early\n{err}"
        # SIGKILL can cut the last line mid-write: only a newline-terminated line was announced.
        announced = out[: out.rfind("\n") + 1]
        lines = [ln.split() for ln in announced.splitlines() if ln.strip()]
        printed = [rid for _s, rid in lines if rid != "None"]
        total_printed += len(printed)
        seed = int(lines[-1][0]) + 1 if lines else seed
        _check_whole_or_absent(home, identity, VaultSettings(capacity_s=3.0))
        _printed_are_kept_or_audited(home, printed)
    assert total_printed > 20, "the loop never got to store: the kills tested nothing"
    with Vault.open(home) as v:
        assert audit.verify_chain(v.connection) == []


def _read_until_stored(proc: subprocess.Popen[str]) -> str:
    """What ``proc`` printed up to and including its first ``stored`` event (all it printed,
    if it ended without one)."""
    assert proc.stdout is not None
    lines = []
    for line in iter(proc.stdout.readline, ""):
        lines.append(line)
        if '"event": "stored"' in line:
            break
    return "".join(lines)


def test_sigkill_during_keepmum_replay(
    tmp_path: Path, wake_recording: tuple[Path, np.ndarray]
) -> None:
    home = tmp_path / "home"
    init_home(home, tmp_path / "pass", members=("alice",))
    config = home / "config.toml"
    config.write_text(config.read_text().replace("capacity_s = 600.0", "capacity_s = 12.0"))
    with Vault.open(home) as v:
        identity = v.unlock("alice", PASSPHRASES["alice"])
    recording = wake_recording[0]
    rng = random.Random(7)
    stored_total = 0
    for kill in range(5):
        proc = subprocess.Popen(
            [*keepmum_command(), "replay", "--home", str(home), "--json", *[str(recording)] * 40],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Kill at a random moment after the first record was announced (not a time from the
        # start: on a loaded machine loading the models alone can take seconds). 40 copies (12
        # minutes of audio): on an idle machine the replay must still be running by then.
        seen = _read_until_stored(proc)
        time.sleep(rng.uniform(0.0, 1.5))
        assert proc.poll() is None, "the replay ended before the kill: it tested nothing"
        proc.send_signal(signal.SIGKILL)
        out, _err = proc.communicate()
        out = seen + out
        announced = out[: out.rfind("\n") + 1]  # a line cut by the kill was not announced
        printed = [ln for ln in announced.splitlines() if '"event": "stored"' in ln]
        stored_total += len(printed)
        verify = keepmum_ok("vault", "verify", "--home", home, "--json")
        assert verify.of("verify")[0]["ok"] is True, (kill, verify)
        _check_whole_or_absent(home, identity, VaultSettings(capacity_s=12.0))
        _printed_are_kept_or_audited(home, [json.loads(ln)["record"] for ln in printed])
    assert stored_total > 0, "no kill landed after a store: the test proved nothing"
    chain = keepmum_ok("audit", "verify", "--home", home, "--json").of("audit_verify")[0]
    assert chain["ok"] is True
