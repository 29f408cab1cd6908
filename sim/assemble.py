"""Builds the real device from a configuration: openWakeWord, webrtcvad, the vault.

The core takes every part through its constructor; this is the one place that chooses the real
ones, so that ``replay``, ``listen``, ``demo`` and ``bench`` run the same device.
"""

from __future__ import annotations

from collections.abc import Callable

from device.audio import SAMPLE_RATE, Pcm
from device.events import Discarded, Summary
from device.pipeline import Attribution
from device.speaker import Speaker
from device.utterance import Utterance
from keepmum.errors import ConfigError, StorageFullError
from sim.config import Config, unknown_name
from storage.vault import Vault
from wakeword.confirm import RequestConfirmer
from wakeword.listener import OpenWakeWordListener
from wakeword.vad import WebRtcVad
from wakeword.voice import PARTIAL_S, VoiceMatcher

__all__ = ["VaultSink", "VoiceAttributor", "build_speaker", "voice_audio"]


def build_speaker(config: Config) -> Speaker:
    """The device's speaker with the real wake-word models, VAD and request confirmer."""
    gate = config.device.vad_gate_s if config.device.vad_gate else None
    listener = OpenWakeWordListener(config.wakeword)
    _check_threshold_names(config, listener.names)
    return Speaker(
        listener,
        WebRtcVad(config.vad),
        config.speaker,
        vad_gate_s=gate,
        confirm=RequestConfirmer(config.vad),
    )


def _check_threshold_names(config: Config, names: tuple[str, ...]) -> None:
    """A threshold for a score no loaded model reports would be silently ignored: refuse it,
    blamed on the option or file that set it. Checked here because a model's score names are
    known only once it is loaded (``timer`` reports one per class)."""
    for name, _value in config.wakeword.thresholds:
        if name not in names:
            where = config.blame("wakeword", "thresholds")
            raise ConfigError(
                f"{where}: threshold for a model that is not loaded: "
                + unknown_name("score name", name, names)
            )


class VaultSink:
    """The vault as the device's utterance sink, attributing every utterance to one member.

    A full disk does not stop the device: the utterance that cannot be committed is dropped
    from RAM (it never touched a file: the transaction rolled back), ``on_full`` is told once,
    and the device keeps listening and discarding; every later utterance tries again, so
    storing resumes as soon as space is freed. ``full`` says afterwards what was lost.
    """

    def __init__(
        self,
        vault: Vault,
        member: str,
        on_full: Callable[[StorageFullError], None] | None = None,
    ) -> None:
        self.vault = vault
        self.member = vault.member(member).name
        self._on_full = on_full
        self.full: StorageFullError | None = None
        """The first full-disk error of this run, if any."""
        self.not_stored = 0
        """Kept utterances that could not be stored because the disk was full."""

    def _disk_full(self, exc: StorageFullError) -> None:
        if self.full is None and self._on_full is not None:
            self._on_full(exc)
        self.full = self.full or exc

    def keep(self, utterance: Utterance, member: str | None = None) -> tuple[str, str] | None:
        """Encrypt to ``member`` (default: the sink's) and commit; None when retention keeps
        nothing or the disk is full."""
        member = self.member if member is None else member
        try:
            record = self.vault.store(utterance, member)
        except StorageFullError as exc:
            self.not_stored += 1
            self._disk_full(exc)
            return None
        return None if record is None else (record, member)

    def note_discarded(self, event: Discarded) -> None:
        """Audit the discard (no audio); on a full disk the entry cannot be written."""
        try:
            self.vault.note_discarded(event.reason, event.duration_s, event.model, event.file)
        except StorageFullError as exc:
            self._disk_full(exc)

    def note_run(self, source: str, summary: Summary) -> None:
        """Audit the run's totals (not possible on a full disk)."""
        try:
            self.vault.note_run(
                source,
                summary.heard_s,
                summary.kept_s,
                summary.discarded_s,
                summary.wakes,
                summary.muted_s,
            )
        except StorageFullError as exc:
            self._disk_full(exc)


def voice_audio(utterance: Utterance) -> Pcm:
    """The audio whose voice says whose request it is: the request after the wake word, when it
    fills at least one of the voice model's partials (:data:`~wakeword.voice.PARTIAL_S`, 1.6 s).

    The wake word is left out because it is often not the requester's voice: a stock clip in a
    tester's fixture, or one person waking the device for another; with it, a stranger's request
    scores nearer to the members (docs/voices.md). A request shorter than a partial says too
    little on its own, so the whole utterance (the wake word included) is matched instead.
    """
    request = utterance.request_samples
    if len(request) >= PARTIAL_S * SAMPLE_RATE:
        return request
    return utterance.samples


class VoiceAttributor:
    """Whose request a kept utterance is: one embedding of its :func:`voice_audio` (in RAM,
    once per kept utterance) matched against the enrolled voiceprints.

    ``discard_strangers`` says what happens when no voiceprint reaches the threshold: discard
    it (reason ``stranger``: a guest's or the television's request is not kept), or file it
    under the default member, as without enrolment (the ``[voice] unattributed`` setting,
    ``discard`` or ``default``, checked where the settings are read).
    """

    def __init__(self, matcher: VoiceMatcher, *, discard_strangers: bool = True) -> None:
        self.matcher = matcher
        self.discard_strangers = discard_strangers

    def __call__(self, utterance: Utterance) -> Attribution:
        match = self.matcher.match(voice_audio(utterance))
        if match.member is not None:
            return Attribution(match.member, match.score)
        return Attribution(None, match.score, discard=self.discard_strangers)
