"""The real ``keepmum cloud serve`` stopped as services are stopped, and started again after a
stop that came mid-write."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pyrage

from sim.cloud import CloudStore
from tests.e2e.cloud_fixtures import start_cloud


def test_sigterm_stops_the_receiver_as_ctrl_c_does(tmp_path: Path) -> None:
    cloud = start_cloud(tmp_path / "cloud")
    cloud.proc.send_signal(signal.SIGTERM)
    out, err = cloud.proc.communicate(timeout=30)
    assert cloud.proc.returncode == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [{"event": "stopped"}]
    assert "Traceback" not in err


def test_an_upload_a_stop_left_half_stored_is_shredded_when_serving_starts(
    tmp_path: Path,
) -> None:
    store = CloudStore(tmp_path / "cloud")
    recipient = pyrage.x25519.Recipient.from_str(store.recipient)
    orphan = store.folder / "received" / "1.age"
    orphan.write_bytes(pyrage.encrypt(b"half-stored upload", [recipient]))
    cloud = start_cloud(store.folder)
    try:
        assert cloud.before_serving == ({"event": "dropped_unacknowledged", "files": ["1.age"]},)
        assert not orphan.exists()
    finally:
        cloud.proc.send_signal(signal.SIGINT)
        cloud.proc.communicate(timeout=30)
    assert cloud.proc.returncode == 0
