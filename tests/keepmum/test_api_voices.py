"""Voices in the testers' API: ``Device.enrol`` enrols as ``keepmum member enrol`` does, and a
stored run attributes each kept request as ``keepmum replay`` does (the ``[voice]`` settings as
keywords), on the bundled espeak-ng fixtures.

The fixtures' male voices (en-gb, en+m3, en-gb-x-rp) are nearly one voice to the model: three
en-gb clips enrol "alice", and alexa_lights (en+m3) is her request. talk_cat (en-us+f3) is far
from them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile as sf

import keepmum
from device.sources import read_audio
from keepmum import fixtures
from storage.vault import Vault
from tests.e2e.conftest import run_keepmum
from wakeword.voice import DEFAULT_VOICE_THRESHOLD

ALICE_CLIPS = [fixtures.path(n) for n in ("alexa_time", "hey_mycroft_news", "near_mycroft")]
ALICE_REQUEST = fixtures.path("alexa_lights")


@pytest.fixture(scope="module")
def enrolled_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A home of bob (its first member, so the default one; not enrolled) and alice (enrolled
    from three en-gb clips); each test works on its own copy."""
    home = tmp_path_factory.mktemp("voices") / "home"
    device = keepmum.Device(home)
    device.init_vault("bob")
    passphrase = device.add_member("alice")
    event = device.enrol("alice", *ALICE_CLIPS, passphrase=passphrase)
    assert event["event"] == "voice_enrolled" and event["member"] == "alice"
    assert event["utterances"] == 3 and 0.8 < event["agreement"] <= 1.0
    return home, passphrase


@pytest.fixture
def enrolled(enrolled_home: tuple[Path, str], tmp_path: Path) -> tuple[keepmum.Device, str]:
    home, passphrase = enrolled_home
    shutil.copytree(home, tmp_path / "home")
    return keepmum.Device(tmp_path / "home", store=True), passphrase


def test_a_request_is_filed_under_the_enrolled_voice(
    enrolled: tuple[keepmum.Device, str],
) -> None:
    device, _ = enrolled
    run = device.replay(ALICE_REQUEST)  # without her voice, bob's (the default member's)
    (stored,) = run.stored
    assert stored["member"] == "alice"
    assert DEFAULT_VOICE_THRESHOLD <= stored["voice_score"] <= 1.0
    with Vault.open(device.home) as vault:  # type: ignore[arg-type]
        assert [r.member for r in vault.records()] == ["alice"]


def test_a_stranger_is_discarded_or_filed_under_the_default_member(
    enrolled: tuple[keepmum.Device, str],
) -> None:
    device, _ = enrolled
    strict = device.replay(ALICE_REQUEST, voice_threshold=0.999)
    assert strict.stored == []
    (discarded,) = strict.discarded
    assert discarded["reason"] == "stranger"
    assert DEFAULT_VOICE_THRESHOLD <= discarded["voice_score"] < 0.999
    kept = device.replay(ALICE_REQUEST, voice_threshold=0.999, unattributed="default")
    (stored,) = kept.stored
    assert stored["member"] == "bob" and stored["voice_score"] == discarded["voice_score"]


def test_the_voice_decides_between_two_enrolled_members(
    enrolled: tuple[keepmum.Device, str],
) -> None:
    device, _ = enrolled
    carol = device.add_member("carol", "carol's long passphrase")
    assert carol == "carol's long passphrase"
    device.enrol("carol", fixtures.path("talk_cat"), passphrase=carol)
    (stored,) = device.replay(ALICE_REQUEST).stored
    assert stored["member"] == "alice"


def test_member_forces_one_member_without_a_voice_score(
    enrolled: tuple[keepmum.Device, str],
) -> None:
    device, _ = enrolled
    device.configure(member="bob")
    (stored,) = device.replay(ALICE_REQUEST).stored
    assert stored["member"] == "bob" and "voice_score" not in stored
    device.configure(member="alice")
    (stored,) = device.replay(ALICE_REQUEST).stored
    assert stored["member"] == "alice" and "voice_score" not in stored


def test_api_events_equal_the_cli_for_an_enrolled_home(
    enrolled: tuple[keepmum.Device, str],
) -> None:
    device, _ = enrolled
    cli = run_keepmum("replay", ALICE_REQUEST, "--json", "--home", device.home)
    assert cli.returncode == 0, str(cli)
    run = device.replay(ALICE_REQUEST)

    def comparable(events: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in e.items() if k != "record"} for e in events]

    assert comparable(cli.events) == comparable(run.events)
    assert run.stored[0]["voice_score"] == cli.of("stored")[0]["voice_score"]


def test_enrol_from_arrays_matches_enrol_from_files(tmp_path: Path) -> None:
    device = keepmum.Device(tmp_path / "home")
    passphrase = device.init_vault("alice")
    arrays = [sf.read(p, dtype="float32")[0] for p in ALICE_CLIPS]
    from_arrays = device.enrol("alice", *arrays, passphrase=passphrase, rate=16000)
    from_files = device.enrol("alice", *ALICE_CLIPS, passphrase=passphrase)
    assert from_arrays["agreement"] == pytest.approx(from_files["agreement"], abs=1e-3)
    assert len(read_audio(ALICE_CLIPS[0])) > 16000


def test_enrol_refuses_what_the_cli_refuses(enrolled: tuple[keepmum.Device, str]) -> None:
    device, passphrase = enrolled
    with pytest.raises(keepmum.VaultError):
        device.enrol("alice", *ALICE_CLIPS, passphrase="not alice's passphrase")
    with pytest.raises(keepmum.ConfigError, match="at least 1 s"):
        device.enrol("alice", read_audio(ALICE_REQUEST)[:8000], passphrase=passphrase)
    with pytest.raises(keepmum.VaultError, match="dave"):
        device.enrol("dave", *ALICE_CLIPS, passphrase=passphrase)
    with pytest.raises(keepmum.ConfigError, match="init_vault"):
        keepmum.Device(device.home.parent / "elsewhere").enrol(  # type: ignore[union-attr]
            "alice", *ALICE_CLIPS, passphrase=passphrase
        )


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"unattributed": "keep"}, "voice.unattributed must be discard or default, got 'keep'"),
        ({"voice_threshold": 1.5}, "voice.voice_threshold must be in 0..1, got 1.5"),
    ],
)
def test_voice_settings_are_checked_as_keywords(setting: dict[str, object], message: str) -> None:
    with pytest.raises(keepmum.ConfigError, match=message):
        keepmum.Device(**setting)
