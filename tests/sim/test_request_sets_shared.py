"""Issue 8's bars on the real recordings in ``../shared/audio``: the evaluation sets made by
``scripts/make_request_sets.py`` (one file per wake clip per condition), judged by the real
``keepmum far --requests`` with the four built-in wake-word models.

- a wake word followed by digital silence or by room noise (pink, brown, babble at -50, -40 and
  -30 dBFS) is discarded >= 90 % of the time, per noise (in babble only since the request must
  start louder than the room was before the wake word: the figures below);
- a wake word followed within 1 s by a spoken request is kept >= 98 % of the time in silence and
  at 20 and 10 dB SNR, over those conditions (a late detection's request is not the wake word's
  tail); no kept request is cut before its last speech, and none is kept longer than request +
  pre-roll + silence_ms + 0.3 s;
- at 5 dB SNR requests are kept a little less often (Silero hears speech at 5 dB less well) and
  babble could keep one open longer: the measured figures are in README.md (98.1-98.9 % per noise
  over six builds of the sets, one over the bound); this test holds them at >= 90 % kept and
  <= 10 % over the bound.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.e2e.conftest import REPO, run_keepmum

pytestmark = [pytest.mark.shared_audio, pytest.mark.slow]

MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy")


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    from tests.conftest import SHARED_AUDIO

    if not SHARED_AUDIO.is_dir():
        pytest.skip(f"needs the real recordings in {SHARED_AUDIO} (not part of the repository)")
    out = tmp_path_factory.mktemp("request-sets")
    made = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_request_sets.py"), "--out", str(out),
         "--variants", "1"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    models = [arg for m in MODELS for arg in ("--model", m)]
    result = run_keepmum(
        "far", "--requests", out, *models, "--cache-dir", out / ".cache", "--json", "--cases",
        home=out / ".home", timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, str(result)
    return {row["condition"]: row for row in result.events}


def share(rows: list[dict[str, Any]], key: str) -> float:
    """Of the wakes, those ``key`` counts; a wake rightly dropped after its request was kept or
    had ended (``late_wakes``) is no wake followed by a request, and not counted."""
    wakes = sum(r["wakes"] - r["late_wakes"] for r in rows)
    assert wakes >= 10, rows
    return sum(r[key] for r in rows) / wakes


def test_every_condition_is_reported(rows: dict[str, dict[str, Any]]) -> None:
    assert len(rows) == 20
    assert all(r["files"] == 15 for r in rows.values())


@pytest.mark.parametrize(
    ("noise", "bar"),
    [
        ("silence", 0.90),
        ("pink", 0.90),
        ("brown", 0.90),
        # In babble this build gives 37 of 40 (92.5 %) on the onnx backend and 36 of 39
        # (92.3 %) on tflite (2026-12-08): with the 1.5 s wait 36 of 39 and 35 of 38; the 5 s
        # wait alone 35 of 40 and 34 of 39, mended by speaker.late_room_margin_db
        # (docs/decisions/2026-12-08-babble-and-the-voice.md). Without speaker.room_margin_db
        # it falls further.
        ("babble", 0.90),
    ],
)
def test_a_wake_word_followed_by_nothing_is_discarded(
    rows: dict[str, dict[str, Any]], noise: str, bar: float
) -> None:
    mine = [r for name, r in rows.items() if name.startswith(f"nothing_{noise}")]
    assert share(mine, "discarded") >= bar, mine


def test_a_request_within_a_second_is_kept_whole(rows: dict[str, dict[str, Any]]) -> None:
    requests = [r for name, r in rows.items() if name.startswith("request_")]
    clear = [r for r in requests if not r["condition"].endswith("snr5")]
    # The bar, over the conditions at 10-20 dB SNR and in silence (one build has 15
    # wakes per condition: per condition, 98 % would allow no miss at all).
    assert share(clear, "kept") >= 0.98, clear
    # Issue 8's bar: none cut. The hardest recording, wyoming/hey_jarvis.wav ("hey jar- ... vis",
    # the model firing in the pause inside the word), has "vis" taken for a short request, which
    # listens on past its hold, as long as for a request, for the request said after it.
    cut = [c for r in requests for c in r["cases"] if c["what"] == "cut_short"]
    assert not cut, cut
    assert all(r["over_bound"] == 0 for r in clear), clear
    loud_noise = [r for r in requests if r["condition"].endswith("snr5")]
    assert share(loud_noise, "kept") >= 0.90, loud_noise
    # Babble 5 dB under the request is sometimes confirmed after it and keeps it open longer.
    assert sum(r["over_bound"] for r in loud_noise) <= 0.1 * sum(r["kept"] for r in loud_noise)


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The held-out talk sets (``--split heldout``), pause folders only, one variant per clip."""
    from tests.conftest import SHARED_AUDIO

    if not SHARED_AUDIO.is_dir():
        pytest.skip(f"needs the real recordings in {SHARED_AUDIO} (not part of the repository)")
    out = tmp_path_factory.mktemp("talk-sets")
    only = ("pause_0.15-0.5", "pause_0.3", "pause_1", "pause_2", "pause_3", "nothing_quiet")
    made = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_request_sets.py"), "--out", str(out),
         "--split", "heldout", "--variants", "1", *(a for o in only for a in ("--only", o))],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    models = [arg for m in MODELS for arg in ("--model", m)]
    result = run_keepmum(
        "far", "--requests", out, *models, "--cache-dir", out / ".cache", "--json",
        home=out / ".home", timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, str(result)
    return {row.get("condition", row.get("bucket")): row for row in result.events}


def test_a_request_after_a_pause_of_up_to_3_s_is_kept_and_the_pause_is_not(
    talk: dict[str, dict[str, Any]],
) -> None:
    """Issue 25's bars on the held-out talk sets: requests after 0.15-3 s of a quiet room kept
    (none lost on these 8 clips), none cut; a wake word followed by the quiet room discarded; the
    kept seconds per request do not grow with the pause."""
    pauses = ["pause_0.15-0.5", "pause_0.3", "pause_1", "pause_2", "pause_3"]
    for name in pauses:
        row = talk[name]
        assert row["requests_kept"] - row["cut_short"] >= row["requests"] - 1, row
    per_request = {name: talk[name]["kept_s"] / max(talk[name]["kept"], 1) for name in pauses}
    assert per_request["pause_3"] <= per_request["pause_0.3"] + 1.0, per_request
    nothing = talk["nothing_quiet"]
    assert nothing["discarded"] >= 0.9 * nothing["wakes"], nothing
