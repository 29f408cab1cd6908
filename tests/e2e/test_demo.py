"""`keepmum demo`, the README's main command: the household scenario, and nothing left behind."""

from __future__ import annotations

import os
from pathlib import Path

from tests.e2e.conftest import run_keepmum


def test_demo_keeps_the_request_discards_the_false_wake_and_leaves_nothing(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    result = run_keepmum("demo", "--json", env={**os.environ, "TMPDIR": str(scratch)})
    assert result.returncode == 0, result
    assert result.other_lines == []
    assert [e["event"] for e in result.events if e["event"] != "summary"] == [
        "wake",
        "listening",
        "utterance_end",
        "stored",
        "wake",
        "listening",
        "discarded",
        "report",
    ]
    stored = result.of("stored")[0]
    assert stored["member"] == "household" and 2.0 < stored["duration_s"] < 8.0
    assert result.of("discarded")[0]["reason"] in ("no_speech", "wake_tail", "noise", "room_talk")
    summary = result.summary
    assert summary["stored"] == 1 and summary["uploaded_bytes"] == 0
    assert summary["kept_s"] < 0.1 * summary["heard_s"]
    # The throwaway home and its vault are gone. onnxruntime itself writes `.ses` (a timestamp
    # and a session GUID, no audio) to the temp folder on import; anything else would fail here.
    assert sorted(p.name for p in scratch.iterdir()) in ([], [".ses"])
