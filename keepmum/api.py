"""The device in process: :func:`replay`, :class:`Device` and the :class:`Run` they return.

What ``keepmum replay --json`` prints, as a test holds it: the same device, built from the same
settings (``config.toml`` keys as keywords, validated by the same code), run by the same function
(:func:`sim.replay.run_sources`), so :attr:`Run.events` equals the command's ``--json`` lines.

``home=None`` means no home at all: default settings (not ``$KEEPMUM_HOME`` or the user's data
folder, which the command line uses), and nothing can be stored, so a test gives the same result
on every machine. Nothing is stored unless ``store=True`` and the home has a vault
(:meth:`Device.init_vault`, or ``keepmum init``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import numpy.typing as npt

from device.arrays import ArraySource, Chunk, ChunkSource
from device.audio import SAMPLE_RATE
from device.sources import REPLAY_PAD_S, AudioSource, FileSource
from keepmum.errors import AudioInputError, ConfigError, StorageFullError
from sim.config import Config, load_config, unknown_name
from sim.replay import raise_if_full, run_sources, vault_sink, voice_attribution

if TYPE_CHECKING:
    from storage.vault import Vault

__all__ = ["Audio", "Device", "Run", "replay"]

Audio = Union[
    str, "os.PathLike[str]", npt.NDArray[np.int16], npt.NDArray[np.floating], Iterable[Chunk]
]
"""What can be replayed: an audio file's path (WAV/FLAC/OGG, any rate and channels), a numpy
array (int16, or float in [-1, 1]; 1-D, or samples x channels) at ``rate``, or an iterable of
such arrays (or of raw s16le bytes) of any length: a stream."""

_CLI_NAMES: dict[str, tuple[str, str]] = {
    "model": ("wakeword", "models"),
    "threshold": ("wakeword", "default_threshold"),
    "vad_aggressiveness": ("vad", "aggressiveness"),
}
"""The command-line options whose names are not their ``config.toml`` keys (``--model``,
``--threshold``, ``--vad-aggressiveness``): accepted under both names."""


def _setting_names() -> dict[str, tuple[str, str]]:
    """Every setting keyword: each ``config.toml`` key (no key is in two sections), and the
    command-line names of :data:`_CLI_NAMES`."""
    names = {
        key: (section, key) for section, table in Config().as_toml_dict().items() for key in table
    }
    return {**names, **_CLI_NAMES}


def _tables(
    settings: Mapping[str, Any],
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], str]]:
    """Settings as config tables, and each one's keyword for error messages (``silence_ms=-5:
    speaker.silence_ms must be in 80..10000, got -5``)."""
    names = _setting_names()
    tables: dict[str, dict[str, Any]] = {}
    blame: dict[tuple[str, str], str] = {}
    for name, value in settings.items():
        if name not in names:
            raise ConfigError(unknown_name("setting", name, names))
        section, key = names[name]
        if (section, key) in blame:
            raise ConfigError(
                f"{name}={value!r}: {section}.{key} is given twice ({blame[(section, key)]})"
            )
        if key == "models" and isinstance(value, str):
            value = [value]
        elif isinstance(value, tuple):
            value = list(value)
        tables.setdefault(section, {})[key] = value
        blame[(section, key)] = f"{name}={value!r}"
    return tables, blame


@dataclass(frozen=True)
class Run:
    """What the device did on one input: its events, as ``keepmum replay --json`` prints them."""

    events: list[dict[str, Any]]
    """Every event's ``--json`` object, in order; the ``summary`` is the last (the schema and
    its version ``v``: docs/testers.md)."""

    def of(self, event: str) -> list[dict[str, Any]]:
        """The events of one kind (``wake``, ``utterance_end``, ``discarded``, ``stored`` ...)."""
        return [e for e in self.events if e.get("event") == event]

    @property
    def wakes(self) -> list[dict[str, Any]]:
        """Each time a wake word fired (``t``, ``model``, ``score``)."""
        return self.of("wake")

    @property
    def kept(self) -> list[dict[str, Any]]:
        """Each utterance kept as a request (``utterance_end``: ``duration_s``, ``reason``)."""
        return self.of("utterance_end")

    @property
    def discarded(self) -> list[dict[str, Any]]:
        """Each wake thrown away unwritten (``reason``: ``no_speech``, ``wake_tail``, ``noise``)."""
        return self.of("discarded")

    @property
    def stored(self) -> list[dict[str, Any]]:
        """Each kept utterance written to the vault (``record``, ``member``, ``duration_s``, and
        ``gap_ms``, the pause before the request that was not kept, as the record stores it):
        none unless storing."""
        return self.of("stored")

    @property
    def summary(self) -> dict[str, Any]:
        """The totals: ``heard_s``, ``kept_s``, ``discarded_s``, ``wakes``, ``stored`` ..."""
        return self.of("summary")[-1]


def _warn_full(exc: StorageFullError) -> None:
    warnings.warn(
        f"keepmum: {exc}; the device keeps listening and discards what it cannot store",
        RuntimeWarning,
        stacklevel=2,
    )


class Device:
    """A device with its settings: ``home`` (its ``config.toml`` and vault; None: defaults, no
    vault), ``config`` (a configuration file instead of the home's), and settings by keyword,
    named as in ``config.toml`` (``silence_ms=600``, ``models=["alexa"]``) or as the command
    line's options (``model="alexa"``, ``threshold=0.6``, ``vad_aggressiveness=2``), checked as
    soon as they are given: a bad name or value is a :class:`~keepmum.errors.ConfigError`.
    """

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        config: str | os.PathLike[str] | None = None,
        *,
        member: str | None = None,
        store: bool = False,
        **settings: Any,
    ) -> None:
        self.home = Path(home) if home is not None else None
        self.config_path = Path(config) if config is not None else None
        self.member = member
        """Whose recordings a stored run's are (default: the vault's first member)."""
        self.store = store
        """Whether kept utterances are written to the home's vault."""
        self._settings: dict[str, Any] = {}
        self.configure(**settings)

    @property
    def settings(self) -> dict[str, Any]:
        """The settings given by keyword so far."""
        return dict(self._settings)

    def config(self, **settings: Any) -> Config:
        """The configuration a run uses: defaults, the file, the settings (and ``settings``)."""
        tables, blame = _tables({**self._settings, **settings})
        return load_config(self.config_path, home=self.home, overrides=tables, blame=blame)

    def configure(
        self, *, store: bool | None = None, member: str | None = None, **settings: Any
    ) -> Device:
        """Change settings (checked now; nothing changes if one is bad); returns the device."""
        merged = {**self._settings, **settings}
        tables, blame = _tables(merged)
        load_config(self.config_path, home=self.home, overrides=tables, blame=blame)
        self._settings = merged
        if store is not None:
            self.store = store
        if member is not None:
            self.member = member
        return self

    def init_vault(self, member: str = "tester", passphrase: str | None = None) -> str:
        """Create the home's vault with one member, and store from now on; returns the member's
        passphrase (random unless given), which reads the records back (``keepmum vault play``)."""
        from sim.config import write_default_config
        from storage.keys import validate_member_name
        from storage.vault import Vault

        if self.home is None:
            raise ConfigError("init_vault: the device has no home (Device(home=...))")
        validate_member_name(member)
        secret = _new_passphrase(member, passphrase)
        with Vault.create(self.home) as vault:
            write_default_config(self.home)
            vault.add_member(member, secret)
        self.store = True
        return secret

    def add_member(self, member: str, passphrase: str | None = None) -> str:
        """Add a member to the home's vault (:meth:`init_vault` first); returns their passphrase
        (random unless given)."""
        secret = _new_passphrase(member, passphrase)
        with self._vault("add_member") as vault:
            vault.add_member(member, secret)
        return secret

    def enrol(
        self, member: str, *audio: Audio, passphrase: str, rate: int | None = None
    ) -> dict[str, Any]:
        """Enrol ``member``'s voice from recordings of them (files, arrays at ``rate`` or streams,
        as :meth:`replay` takes; three of a few seconds each is what was measured), with their
        passphrase (:meth:`init_vault`'s or :meth:`add_member`'s), as ``keepmum member enrol``
        does. From then on a stored run files each kept request under the member whose voice it
        is, with its ``voice_score``, and handles a stranger's by the ``unattributed`` setting.
        Returns the ``voice_enrolled`` event (``agreement``: the lowest cosine of one recording
        to the voiceprint)."""
        from sim.enrolment import enrol_voice

        samples = [_samples(a, rate) for a in audio]
        with self._vault("enrol") as vault:
            known = vault.member(member)
            identity = vault.unlock(known.name, passphrase)
            return enrol_voice(vault, known.name, identity, samples).event()

    @contextlib.contextmanager
    def _vault(self, what: str) -> Iterator[Vault]:
        """The home's vault, opened with its configuration's vault settings (as the command line
        opens it: default settings could purge what the home's own keep)."""
        from storage.vault import Vault

        if self.home is None or not Vault.exists(self.home):
            raise ConfigError(f"{what}: the device's home has no vault; call init_vault() first")
        settings = load_config(self.config_path, home=self.home).vault
        with Vault.open(self.home, settings) as vault:
            yield vault

    def replay(
        self,
        audio: Audio,
        *,
        rate: int | None = None,
        name: str | None = None,
        **settings: Any,
    ) -> Run:
        """Run the device on recorded audio, as ``keepmum replay`` does (1 s of silence before and
        after; event times in seconds from the start of the audio). ``rate``: the sample rate
        of an array or stream (default 16000; a file says its own). ``name``: what the events'
        ``file`` says (default: the path as given; empty for arrays and streams)."""
        config = self.config(**settings)
        return self._run(_source(audio, rate, name), config)

    def listen(
        self,
        duration_s: float | None = None,
        *,
        input_device: str | int | None = None,
        stop: threading.Event | None = None,
        source: AudioSource | None = None,
        **settings: Any,
    ) -> Run:
        """Run the device on the microphone (``input_device``, else the configured one, else the
        system's default) for ``duration_s`` seconds, or until ``stop`` is set. ``source`` runs it
        on any other live source instead (a test's)."""
        config = self.config(**settings)
        if source is None:
            from device.microphone import MicrophoneSource

            wanted = input_device if input_device is not None else config.device.input_device
            source = MicrophoneSource(wanted or None, duration_s=duration_s)
        return self._run(source, config, stop)

    def _run(self, source: AudioSource, config: Config, stop: threading.Event | None = None) -> Run:
        with vault_sink(
            self.home,
            config,
            self.member,
            store=self.store,
            on_full=_warn_full,
            instead="pass store=False",
        ) as sink:
            attribute = voice_attribution(sink, self.member, config.voice)
            outcome = run_sources([source], config, sink, stop=stop, attribute=attribute)
        raise_if_full(sink)
        return Run(outcome.events)


def _new_passphrase(member: str, passphrase: str | None) -> str:
    """``passphrase`` checked as ``keepmum init`` checks a new one, or a random one if None."""
    from sim.commands._common import check_new_passphrase

    return check_new_passphrase(member, passphrase) if passphrase else secrets.token_urlsafe(24)


def _samples(audio: Audio, rate: int | None) -> npt.NDArray[np.int16]:
    """All of ``audio`` as 16 kHz mono int16, without the replay's padding (for enrolment)."""
    source = _source(audio, rate, None, pad_s=0.0)
    chunks = list(source.chunks())
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


def _source(
    audio: Audio, rate: int | None, name: str | None, pad_s: float = REPLAY_PAD_S
) -> FileSource | ArraySource | ChunkSource:
    """The audio source for what was given."""
    if isinstance(audio, (str, os.PathLike)):
        if rate is not None:
            raise ConfigError(
                f"{os.fspath(audio)}: rate= is for arrays and streams; a file says its own"
            )
        source = FileSource(os.fspath(audio), pad_s=pad_s)
        if name is not None:
            source.name = name
        return source
    rate = SAMPLE_RATE if rate is None else rate
    if isinstance(audio, (np.ndarray, bytes, bytearray, memoryview)):
        return ArraySource(audio, rate=rate, name=name or "", pad_s=pad_s)
    if isinstance(audio, Iterable):
        return ChunkSource(audio, rate=rate, name=name or "", pad_s=pad_s)
    raise AudioInputError(
        f"cannot replay a {type(audio).__name__}: give a file path, a numpy array, or an "
        "iterable of arrays (a stream)"
    )


def replay(
    audio: Audio,
    *,
    rate: int | None = None,
    name: str | None = None,
    home: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
    member: str | None = None,
    store: bool = False,
    **settings: Any,
) -> Run:
    """Run a device with these settings on ``audio`` once: ``Device(home, config, member=...,
    store=..., **settings).replay(audio, rate=..., name=...)``."""
    device = Device(home, config, member=member, store=store, **settings)
    return device.replay(audio, rate=rate, name=name)
