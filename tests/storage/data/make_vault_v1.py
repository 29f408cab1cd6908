"""How tests/storage/data/vault-v1.db was made: by the keepmum of commit 6d88b76 (schema 1).

    git archive 6d88b76 storage device | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old python make_vault_v1.py /tmp/old/home   # then copy home/vault.db

One member (alice), two records, a grant for both, both uploaded (logged in ``uploads``).
"""

import shutil
import sys
from pathlib import Path

import numpy as np

from device.utterance import Utterance
from storage.consent import grant_records
from storage.upload import HttpResponse, Uploader
from storage.vault import Vault


def main(home: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)
    with Vault.create(home, clock=lambda: 1_700_000_000.0) as v:
        v.add_member("alice", "alice's long passphrase")
        rng = np.random.default_rng(1)
        ids = []
        for i in range(2):
            samples = (rng.standard_normal(1600) * 3000).astype(np.int16)
            ids.append(
                v.store(
                    Utterance(
                        samples=samples,
                        started_at=1_700_000_000.0 + i,
                        start_t=1.0 + i,
                        model="alexa",
                        score=0.9,
                        end_reason="silence",
                        source="v1.wav",
                    ),
                    "alice",
                )
            )
        identity = v.unlock("alice", "alice's long passphrase")
        grant_records(
            v,
            member="alice",
            identity=identity,
            purpose="v1",
            endpoint="http://127.0.0.1:9",
            recipient=str(identity.to_public()),
            record_ids=ids,
        )
        Uploader(v, transport=lambda req: HttpResponse(201, b"{}")).upload()
    print(ids)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
