"""Shared helpers for the vault's tests: a template home made once per session, copied per test.

age's scrypt takes one to two seconds per seal or unlock, so the members' identities are made
once (``alice`` and ``bob``) and each test gets its own copy of that home, modes preserved; their
unlocked identities are cached per session too.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pyrage import x25519

from device.audio import SAMPLE_RATE, Pcm
from device.utterance import Utterance
from storage.settings import VaultSettings
from storage.vault import Vault

PASSPHRASES = {"alice": "correct horse alice", "bob": "battery staple bob"}
T0 = 1_700_000_000.0


class FakeClock:
    """A clock the test moves by hand (Unix seconds)."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def noise(seconds: float, seed: int = 0) -> Pcm:
    """Loud random int16 audio: every 64-sample run of it is unique in practice."""
    rng = np.random.default_rng(seed)
    n = round(seconds * SAMPLE_RATE)
    return rng.integers(-20000, 20000, size=n, dtype=np.int16)


def utterance(
    seconds: float = 0.5, seed: int = 0, started_at: float = T0, source: str = "test.wav"
) -> Utterance:
    """A kept utterance of noise."""
    return Utterance(
        samples=noise(seconds, seed),
        start_t=1.25,
        started_at=started_at,
        model="hey_jarvis",
        score=0.87,
        end_reason="silence",
        source=source,
    )


def store_one(vault: Vault, member: str, seed: int) -> str:
    """Store one half-second utterance of ``member``, started now by the vault's clock."""
    rid = vault.store(utterance(0.5, seed=seed, started_at=vault.clock()), member)
    assert rid is not None
    return rid


@pytest.fixture(scope="session")
def template_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with members alice then bob (made once: two scrypt seals)."""
    home = tmp_path_factory.mktemp("template") / "home"
    with Vault.create(home, VaultSettings(), clock=FakeClock(T0 - 100)) as v:
        for name, pw in PASSPHRASES.items():
            v.add_member(name, pw)
    return home


@pytest.fixture(scope="session")
def identities(template_home: Path) -> Callable[[str], x25519.Identity]:
    """Unlock a template member once per session (scrypt is slow)."""
    cache: dict[str, x25519.Identity] = {}

    def get(name: str) -> x25519.Identity:
        if name not in cache:
            with Vault.open(template_home, clock=FakeClock(T0 - 100)) as v:
                cache[name] = v.unlock(name, PASSPHRASES[name])
        return cache[name]

    return get


@pytest.fixture
def home(template_home: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template home (modes kept)."""
    dest = tmp_path / "home"
    shutil.copytree(template_home, dest)
    dest.chmod(0o700)
    return dest


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def open_vault(home: Path, clock: Callable[[], float], **settings: float) -> Vault:
    """Open ``home`` with the given retention/capacity settings."""
    return Vault.open(home, VaultSettings(**settings), clock=clock)
