"""How tests/storage/data/v6_home was made: by the keepmum of commit f9587e4 (schema 6, before
records carried ``gap_ms``).

    git archive f9587e4 storage device wakeword keepmum | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old python make_home_v6.py /tmp/old/home   # then copy home/

One member (alice, passphrase below) and two records, with times in 2096 and a year's retention
(a test opens it with a clock set then).
"""

import shutil
import sys
from pathlib import Path

import numpy as np

from device.utterance import Utterance
from storage.settings import VaultSettings
from storage.vault import Vault

PASSPHRASE = "alice v6 passphrase"
T0 = 4_000_000_000.0


def main(home: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)
    clock = iter(T0 + i for i in range(10_000))
    with Vault.create(home, VaultSettings(retention_h=24.0 * 366), clock=lambda: next(clock)) as v:
        v.add_member("alice", PASSPHRASE)
        rng = np.random.default_rng(6)
        for i in range(2):
            samples = (rng.standard_normal(1600) * 3000).astype(np.int16)
            rid = v.store(
                Utterance(
                    samples=samples,
                    started_at=T0 + i,
                    start_t=1.0 + i,
                    model="alexa",
                    score=0.9,
                    end_reason="silence",
                    source="v6.wav",
                ),
                "alice",
            )
            print(rid)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
