"""``keepmum.replay`` and ``keepmum.Device`` in process: the CLI's events, from files, arrays and
streams alike; settings named and checked as in config.toml; storing only when asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import keepmum
from device.audio import FRAME_SAMPLES
from device.events import SCHEMA_VERSION
from keepmum import fixtures
from storage.vault import Vault
from tests.e2e.conftest import run_keepmum

ALEXA_TIME = fixtures.path("alexa_time")
ALEXA_SILENCE = fixtures.path("alexa_then_silence")


@pytest.fixture(scope="module")
def file_run() -> keepmum.Run:
    return keepmum.replay(ALEXA_TIME)


def test_cli_json_lines_equal_the_api_events(tmp_path: Path) -> None:
    household = fixtures.path("household")
    cli = run_keepmum("replay", household, "--json", "--no-store", home=tmp_path / "home")
    assert cli.returncode == 0, str(cli)
    run = keepmum.replay(household, home=tmp_path / "home")
    assert cli.events == run.events
    assert [e["event"] for e in run.events] == [
        "wake",
        "listening",
        "utterance_end",
        "wake",
        "listening",
        "discarded",
        "summary",
    ]
    assert {e["v"] for e in cli.events} == {SCHEMA_VERSION}


def test_run_sorts_the_events(file_run: keepmum.Run) -> None:
    assert [w["model"] for w in file_run.wakes] == ["alexa"]
    assert [k["reason"] for k in file_run.kept] == ["silence"]
    assert file_run.discarded == [] and file_run.stored == []
    assert file_run.summary["wakes"] == 1 and file_run.summary["stored"] == 0
    assert file_run.events[-1] is file_run.summary
    assert file_run.wakes[0]["file"] == str(ALEXA_TIME)


def test_a_wake_followed_by_nothing_is_discarded() -> None:
    run = keepmum.replay(ALEXA_SILENCE)
    assert len(run.wakes) == 1 and run.kept == []
    assert len(run.discarded) == 1 and run.summary["kept_s"] == 0.0


def _chunks(samples: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(samples), size):
        yield samples[start : start + size]


def test_path_array_and_stream_give_the_same_events(file_run: keepmum.Run) -> None:
    samples, rate = sf.read(ALEXA_TIME, dtype="int16")
    assert rate == 16000
    name = str(ALEXA_TIME)
    as_int16 = keepmum.replay(samples, name=name)
    as_float = keepmum.replay(samples.astype(np.float32) / 32768.0, name=name)
    as_stereo = keepmum.replay(np.stack([samples, samples], axis=1), name=name)
    as_frames = keepmum.replay(_chunks(samples, FRAME_SAMPLES), name=name)
    as_odd_chunks = keepmum.replay(_chunks(samples, 1001), name=name)
    as_bytes = keepmum.replay((c.astype("<i2").tobytes() for c in _chunks(samples, 777)), name=name)
    for run in (as_int16, as_float, as_stereo, as_frames, as_odd_chunks, as_bytes):
        assert run.events == file_run.events
    assert keepmum.replay(samples).wakes[0]["file"] == ""


def test_an_array_at_another_rate_converts_as_its_file_does(tmp_path: Path) -> None:
    samples, _ = sf.read(ALEXA_TIME, dtype="float32")
    stretched = np.interp(np.arange(len(samples) * 3) / 3, np.arange(len(samples)), samples)
    wav = tmp_path / "alexa_48k.wav"
    sf.write(wav, stretched, 48000, subtype="FLOAT")
    from_file = keepmum.replay(wav)
    from_array = keepmum.replay(stretched.astype(np.float32), rate=48000, name=str(wav))
    assert from_array.events == from_file.events
    assert len(from_file.kept) == 1


def test_settings_are_config_keys_or_cli_names() -> None:
    device = keepmum.Device(silence_ms=480, model="alexa", threshold=0.6, vad_aggressiveness=2)
    config = device.config()
    assert config.speaker.silence_ms == 480
    assert config.wakeword.models == ("alexa",)
    assert config.wakeword.default_threshold == 0.6
    assert config.vad.aggressiveness == 2
    assert device.config(silence_ms=800).speaker.silence_ms == 800
    assert device.settings["silence_ms"] == 480


def test_a_setting_changes_what_the_device_does() -> None:
    # No score reaches 1.0: at that threshold the wake word never fires.
    run = keepmum.replay(ALEXA_TIME, threshold=1.0)
    assert run.wakes == [] and run.summary["wakes"] == 0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"silence_m": 500}, "unknown setting 'silence_m' (did you mean 'silence_ms'?"),
        ({"silence_ms": -5}, "silence_ms=-5: speaker.silence_ms must be in"),
        ({"silence_ms": "600"}, "silence_ms='600'"),
        ({"model": "alexa", "models": ["alexa"]}, "wakeword.models is given twice"),
    ],
)
def test_a_bad_setting_is_one_clear_line(settings: dict[str, object], message: str) -> None:
    with pytest.raises(keepmum.ConfigError) as caught:
        keepmum.Device(**settings)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_configure_keeps_the_old_settings_when_a_new_one_is_bad() -> None:
    device = keepmum.Device(silence_ms=480)
    with pytest.raises(keepmum.ConfigError):
        device.configure(silence_ms=480, preroll_ms=-1)
    assert device.settings == {"silence_ms": 480}
    assert device.configure(store=False, preroll_ms=400).settings["preroll_ms"] == 400


@pytest.mark.parametrize(
    ("audio", "rate", "message"),
    [
        (np.zeros(16000, dtype=np.int32), None, "must be int16, or float in [-1, 1], got int32"),
        (np.full(16000, 2.0), None, "float samples must be in [-1, 1], got a peak of 2"),
        (np.array([0.0, np.nan]), None, "NaN or infinite"),
        (np.zeros(0, dtype=np.int16), None, "contains no audio"),
        (np.zeros((2, 2, 2), dtype=np.int16), None, "got shape (2, 2, 2)"),
        (np.zeros(16000, dtype=np.int16), 2000, "rate must be a whole number of hertz"),
        (iter([]), None, "held no audio"),
        (iter([np.zeros(10, np.int16), np.zeros((10, 2), np.int16)]), None, "chunk 1: 2 channel"),
        (b"\x00\x00\x00", None, "odd length"),
        (42, None, "cannot replay a int"),
    ],
)
def test_bad_audio_is_one_clear_line(audio: object, rate: int | None, message: str) -> None:
    with pytest.raises(keepmum.AudioInputError) as caught:
        keepmum.replay(audio, rate=rate)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_file_says_its_own_rate() -> None:
    with pytest.raises(keepmum.ConfigError, match="rate= is for arrays and streams"):
        keepmum.replay(ALEXA_TIME, rate=48000)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(keepmum.AudioInputError, match=r"nothing\.wav: no such file"):
        keepmum.replay(tmp_path / "nothing.wav")


def test_nothing_is_stored_without_a_vault_and_store_needs_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert keepmum.replay(ALEXA_TIME, home=home).stored == []
    assert not home.exists()
    with pytest.raises(keepmum.VaultError, match=r"no vault here.*pass store=False"):
        keepmum.replay(ALEXA_TIME, home=home, store=True)


def test_init_vault_then_store_writes_a_record(tmp_path: Path) -> None:
    device = keepmum.Device(tmp_path / "home")
    passphrase = device.init_vault("alice")
    assert len(passphrase) >= 8 and device.store
    run = device.replay(ALEXA_TIME)
    assert [s["member"] for s in run.stored] == ["alice"]
    assert run.summary["stored"] == 1
    with Vault.open(tmp_path / "home") as vault:
        assert [r.id for r in vault.records("alice")] == [run.stored[0]["record"]]


def test_init_vault_needs_a_home_and_a_long_passphrase(tmp_path: Path) -> None:
    with pytest.raises(keepmum.ConfigError, match="no home"):
        keepmum.Device().init_vault()
    with pytest.raises(keepmum.ConfigError, match="at least 8 characters"):
        keepmum.Device(tmp_path / "home").init_vault("bob", "short")
    assert not Vault.exists(tmp_path / "home")


def test_listen_runs_the_device_on_a_live_source(file_run: keepmum.Run) -> None:
    from device.arrays import ArraySource
    from device.sources import REPLAY_PAD_S

    samples, _ = sf.read(ALEXA_TIME, dtype="int16")
    source = ArraySource(samples, rate=16000, name=str(ALEXA_TIME), pad_s=REPLAY_PAD_S)
    assert keepmum.Device().listen(source=source).events == file_run.events


def test_every_device_option_of_replay_is_a_setting_keyword() -> None:
    from keepmum.api import _setting_names
    from sim.commands.device import replay as replay_command

    # The run's own options, not the device's settings: where audio goes.
    not_settings = {
        "files",
        "home",
        "json_lines",
        "member",
        "no_store",
        "expect_path",
    }
    options = [p for p in replay_command.params if p.name not in not_settings | {"config_path"}]
    assert len(options) > 20
    keywords = _setting_names()
    for option in options:
        name = option.opts[0].removeprefix("--").replace("-", "_")
        assert name in keywords, f"{option.opts[0]} has no keyword in keepmum.replay"


def test_no_config_key_is_in_two_sections() -> None:
    from keepmum.api import _CLI_NAMES, _setting_names
    from sim.config import Config

    tables = Config().as_toml_dict()
    assert len(_setting_names()) == sum(len(t) for t in tables.values()) + len(_CLI_NAMES)
