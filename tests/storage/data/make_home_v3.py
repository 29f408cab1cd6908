"""How tests/storage/data/v3_home was made: by the keepmum of commit ee071ea (schema 3, the
consent tables still created outside the versioned schema, at every open).

    git archive ee071ea storage device wakeword | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old python make_home_v3.py /tmp/old/home   # then copy home/

One member (alice, passphrase below), two records, a grant for the first (uploaded, logged in
``uploads`` and
``upload_attempts``), an all-future grant that queued the second.
"""

import shutil
import sys
from pathlib import Path

import numpy as np

from device.utterance import Utterance
from storage.consent import grant_all_future, grant_records, install_future_grant_hook
from storage.settings import VaultSettings
from storage.upload import HttpResponse, Uploader
from storage.vault import Vault

PASSPHRASE = "alice v3 passphrase"
T0 = 4_000_000_000.0


def main(home: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)
    # Times in 2096 with a year's retention: a test opens it with a clock set then.
    clock = iter(T0 + i for i in range(10_000))
    with Vault.create(home, VaultSettings(retention_h=24.0 * 366), clock=lambda: next(clock)) as v:
        v.add_member("alice", PASSPHRASE)
        identity = v.unlock("alice", PASSPHRASE)
        recipient = str(identity.to_public())
        install_future_grant_hook(v)
        rng = np.random.default_rng(3)

        def store(i: int) -> str:
            samples = (rng.standard_normal(1600) * 3000).astype(np.int16)
            rid = v.store(
                Utterance(
                    samples=samples,
                    started_at=T0 + i,
                    start_t=1.0 + i,
                    model="alexa",
                    score=0.9,
                    end_reason="silence",
                    source="v3.wav",
                ),
                "alice",
            )
            assert rid is not None
            return rid

        first = store(0)
        grant_records(
            v,
            member="alice",
            identity=identity,
            purpose="v3 named",
            endpoint="http://127.0.0.1:9",
            recipient=recipient,
            record_ids=[first],
        )
        Uploader(v, transport=lambda req: HttpResponse(201, b"{}")).upload()
        grant_all_future(
            v,
            member="alice",
            purpose="v3 future",
            endpoint="http://127.0.0.1:9",
            recipient=recipient,
        )
        second = store(1)
    print(first, second)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
