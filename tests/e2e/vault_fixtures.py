"""Helpers for the vault's end-to-end tests: a spoken wake-word recording made with espeak-ng,
a home made by the real ``keepmum init``, and a scanner for plaintext audio in files.

Fixtures are defined under private names with ``name=``, so test modules import them without
shadowing (``from tests.e2e.vault_fixtures import _stored_home  # noqa: F401``).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from pyrage import x25519

from tests.conftest import require_tool
from tests.e2e.conftest import Result, run_keepmum

PASSPHRASES = {"alice": "alice's long passphrase", "bob": "bob's other passphrase"}
WAKE_PHRASE = "Alexa. What is the weather like today in London?"


def write_wake_recording(path: Path, repeats: int = 3, seed: int = 1) -> np.ndarray:
    """Write a 16 kHz mono WAV of ``repeats`` x (2 s quiet, "Alexa. <question>") + 2 s quiet.

    espeak-ng's ``en`` voice wakes openWakeWord's ``alexa`` model reliably (scores > 0.9); a
    little noise makes every 64-sample run of the recording distinctive. Returns the samples.
    """
    espeak = require_tool("espeak-ng")
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(
        [espeak, "-v", "en", "-s", "150", "-w", str(raw), WAKE_PHRASE],
        check=True,
        capture_output=True,
    )
    speech, rate = sf.read(raw, dtype="float32")
    raw.unlink()
    speech = soxr.resample(speech, rate, 16000)
    gap = np.zeros(32000, dtype=np.float32)
    audio = np.concatenate([*[np.concatenate([gap, speech]) for _ in range(repeats)], gap])
    audio += np.random.default_rng(seed).standard_normal(len(audio)).astype(np.float32) * 0.002
    pcm = np.clip(audio * 26000, -32768, 32767).astype(np.int16)
    sf.write(path, pcm, 16000, subtype="PCM_16")
    return pcm


def write_passphrase_files(folder: Path, passphrases: dict[str, str]) -> list[str]:
    """``--passphrase-file NAME=FILE`` arguments for ``passphrases``, files written in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    args = []
    for name, pw in passphrases.items():
        f = folder / f"{name}.pass"
        f.write_text(pw + "\n")
        args += ["--passphrase-file", f"{name}={f}"]
    return args


def keepmum_ok(*args: str | Path, **kwargs: object) -> Result:
    """Run keepmum and fail the test with its output unless it exits 0."""
    result = run_keepmum(*args, **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 0, result
    return result


@dataclass(frozen=True)
class StoredHome:
    """A home made by ``keepmum init`` (alice, bob) after replays that stored records."""

    home: Path
    recording: Path
    pcm: np.ndarray
    pass_args: list[str]
    """``--passphrase-file`` arguments for both members."""
    alice: list[str]
    """Record ids stored for alice."""
    bob: list[str]

    def pass_arg(self, member: str) -> list[str]:
        """``--passphrase-file MEMBER=FILE`` for one member only."""
        return ["--passphrase-file", next(a for a in self.pass_args if a.startswith(f"{member}="))]


def init_home(home: Path, passfolder: Path, members: Iterable[str] = ("alice", "bob")) -> list[str]:
    """``keepmum init`` with passphrase files; returns the ``--passphrase-file`` arguments."""
    pass_args = write_passphrase_files(passfolder, {m: PASSPHRASES[m] for m in members})
    member_args = [a for m in members for a in ("--member", m)]
    keepmum_ok("init", "--home", home, *member_args, *pass_args, "--json")
    return pass_args


def _column(home: Path, sql: str, key: str) -> object:
    """One value read straight from the SQLite file (as any attacker could)."""
    conn = sqlite3.connect(home / "vault.db")
    try:
        row = conn.execute(sql, (key,)).fetchone()
    finally:
        conn.close()
    assert row is not None, f"nothing for {key!r} in {home}: {sql}"
    return row[0]


def key_file(home: Path, member: str) -> Path:
    """The member's sealed identity file: named by their stable id, read from vault.db."""
    member_id = _column(home, "SELECT id FROM members WHERE name = ?", member)
    return home / "keys" / f"{member_id}.identity.age"


def stored_ids(result: Result) -> list[str]:
    return [e["record"] for e in result.of("stored")]


# Each test module imports these fixtures, and a fixture imported into a module is that module's
# own: session-scoped or not, each module would make its own recording and template home (an
# init's two scrypt seals and two replays, 13 times in the e2e folder). The first module's are
# kept in the session's stash and the others' fixtures return them: neither is ever written to
# (tests copy the template home, see stored_home).
_RECORDING = pytest.StashKey[tuple[Path, np.ndarray]]()
_TEMPLATE = pytest.StashKey[StoredHome]()
_UNLOCKED = pytest.StashKey[dict[str, x25519.Identity]]()


@pytest.fixture(scope="session", name="wake_recording")
def _wake_recording(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, np.ndarray]:
    if _RECORDING not in request.config.stash:
        path = tmp_path_factory.mktemp("audio") / "three_wakes.wav"
        request.config.stash[_RECORDING] = (path, write_wake_recording(path))
    return request.config.stash[_RECORDING]


@pytest.fixture(scope="session", name="stored_template")
def _stored_template(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    wake_recording: tuple[Path, np.ndarray],
) -> StoredHome:
    if _TEMPLATE not in request.config.stash:
        request.config.stash[_TEMPLATE] = _make_stored_template(tmp_path_factory, wake_recording)
    return request.config.stash[_TEMPLATE]


def _make_stored_template(
    tmp_path_factory: pytest.TempPathFactory, wake_recording: tuple[Path, np.ndarray]
) -> StoredHome:
    base = tmp_path_factory.mktemp("stored")
    home = base / "home"
    pass_args = init_home(home, base / "pass")
    recording, pcm = wake_recording
    alice = stored_ids(keepmum_ok("replay", "--home", home, "--json", recording))
    bob = stored_ids(keepmum_ok("replay", "--home", home, "--member", "bob", "--json", recording))
    assert len(alice) >= 2 and len(bob) >= 2, "espeak-ng's 'Alexa' no longer wakes the device"
    return StoredHome(home, recording, pcm, pass_args, alice, bob)


@pytest.fixture(name="stored_home")
def _stored_home(stored_template: StoredHome, tmp_path: Path) -> StoredHome:
    """A private copy of the stored template (modes kept)."""
    home = tmp_path / "home"
    shutil.copytree(stored_template.home, home)
    home.chmod(0o700)
    return StoredHome(
        home,
        stored_template.recording,
        stored_template.pcm,
        stored_template.pass_args,
        stored_template.alice,
        stored_template.bob,
    )


@pytest.fixture(scope="session", name="unlocked")
def _unlocked(
    request: pytest.FixtureRequest, stored_template: StoredHome
) -> Callable[[str], x25519.Identity]:
    """Unlock a template member once per session, in-process (scrypt is slow)."""
    from storage.vault import Vault

    cache = request.config.stash.setdefault(_UNLOCKED, {})  # shared by the modules, as above

    def get(name: str) -> x25519.Identity:
        if name not in cache:
            with Vault.open(stored_template.home) as v:
                cache[name] = v.unlock(name, PASSPHRASES[name])
        return cache[name]

    return get


def ciphertext(home: Path, record: str) -> bytes:
    """A record's ciphertext, read straight from the SQLite file (as any attacker could)."""
    blob = _column(home, "SELECT ciphertext FROM records WHERE id = ?", record)
    assert isinstance(blob, bytes)
    return blob


# -- plaintext scanning ------------------------------------------------------------------------

_BLOCK = 32  # any 64-sample run of the input contains one whole input block of 32 samples


def _rolling_hashes(samples: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A hash of every 32-sample window (wrapping uint64 arithmetic), in O(n) memory."""
    n = len(samples) - _BLOCK + 1
    values = samples.astype(np.uint64)
    out = np.zeros(n, dtype=np.uint64)
    for k in range(_BLOCK):
        out += values[k : k + n] * weights[k]
    return out


def plaintext_finder(pcm: np.ndarray) -> Callable[[bytes], list[int]]:
    """A function that returns the byte offsets in some data of any 64-sample run of ``pcm``.

    Every 64-sample run contains a 32-sample block of ``pcm`` starting at a multiple of 32, so
    the data is searched (at both byte alignments) for those blocks, by hash and then exactly.
    Blocks with fewer than 8 distinct values (digital silence) are skipped: they prove nothing.
    """
    pcm = np.ascontiguousarray(pcm, dtype="<i2")
    weights = np.random.default_rng(7).integers(1, 2**63, size=_BLOCK, dtype=np.uint64)
    starts = np.arange(0, len(pcm) - _BLOCK + 1, _BLOCK)
    starts = np.array([s for s in starts if len(np.unique(pcm[s : s + _BLOCK])) >= 8])
    as_u16 = pcm.view(np.uint16)
    targets = _rolling_hashes(as_u16, weights)[starts]
    blocks = {pcm[s : s + _BLOCK].tobytes() for s in starts}

    def find(data: bytes) -> list[int]:
        found: list[int] = []
        for align in (0, 1):
            body = data[align:]
            body = body[: len(body) - len(body) % 2]
            if len(body) < 2 * _BLOCK:
                continue
            view = np.frombuffer(body, dtype="<u2")
            hashes = _rolling_hashes(view, weights)
            for j in np.nonzero(np.isin(hashes, targets))[0]:
                offset = align + 2 * int(j)
                if data[offset : offset + 2 * _BLOCK] in blocks:
                    found.append(offset)
        return found

    return find


def scan_for_plaintext(folders: Iterable[Path], pcm: np.ndarray) -> dict[str, list[int]]:
    """``{file: offsets}`` of every file under ``folders`` holding a 64-sample run of ``pcm``."""
    find = plaintext_finder(pcm)
    hits: dict[str, list[int]] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                offsets = find(path.read_bytes())
                if offsets:
                    hits[str(path)] = offsets[:5]
    return hits
