"""A tester's own tests of keepmum: docs/testers.md shows this file, and keepmum's CI runs it
as written (tests/keepmum/test_example.py)."""

from pathlib import Path

import pytest

import keepmum
from keepmum import fixtures


def test_a_request_after_the_wake_word_is_kept() -> None:
    run = keepmum.replay(fixtures.path("alexa_time"))
    assert [w["model"] for w in run.wakes] == ["alexa"]
    assert len(run.kept) == 1 and run.discarded == []


def test_a_wake_word_followed_by_nothing_is_discarded(keepmum_device) -> None:
    run = keepmum_device.replay(fixtures.path("alexa_then_silence"))
    assert len(run.wakes) == 1 and run.kept == []
    assert run.summary["kept_s"] == 0.0


@pytest.mark.keepmum(threshold=0.6)  # config.toml keys, or the CLI names
def test_the_household_does_what_was_expected(keepmum_device) -> None:
    run = keepmum_device.replay(fixtures.path("household"))
    keepmum.assert_events(run, fixtures.expected("household"))


def test_a_recording_in_memory(keepmum_device, tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    samples, rate = sf.read(fixtures.path("alexa_lights"), dtype="float32")
    quiet = np.concatenate([np.zeros(rate, dtype=np.float32), 0.5 * samples])
    run = keepmum_device.replay(quiet, rate=rate)
    keepmum_device.assert_events(
        run, [{"event": "wake", "model": "alexa", "t": 2.0}], tolerance_s=1.0
    )


def test_a_request_is_filed_under_the_voice_that_spoke_it(keepmum_device) -> None:
    keepmum_device.init_vault("bob")  # the first member: without voices, everything is bob's
    passphrase = keepmum_device.add_member("alice")
    # Recordings of alice: the bundled clips' male espeak-ng voices are one voice to the model.
    clips = [fixtures.path(n) for n in ("alexa_time", "hey_mycroft_news", "near_mycroft")]
    keepmum_device.enrol("alice", *clips, passphrase=passphrase)
    run = keepmum_device.replay(fixtures.path("alexa_lights"))
    assert [s["member"] for s in run.stored] == ["alice"]
    assert run.stored[0]["voice_score"] >= 0.75
    strict = keepmum_device.replay(fixtures.path("alexa_lights"), voice_threshold=0.999)
    assert strict.stored == [] and strict.discarded[0]["reason"] == "stranger"
