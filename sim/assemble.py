"""Builds the real device from a configuration: openWakeWord, webrtcvad, the vault.

The core takes every part through its constructor; this is the one place that chooses the real
ones, so that ``replay``, ``listen``, ``demo`` and ``bench`` run the same device.
"""

from __future__ import annotations

from device.events import Discarded, Summary
from device.speaker import Speaker
from device.utterance import Utterance
from sim.config import Config
from storage.vault import Vault
from wakeword.confirm import RequestConfirmer
from wakeword.listener import OpenWakeWordListener
from wakeword.vad import WebRtcVad

__all__ = ["VaultSink", "build_speaker"]


def build_speaker(config: Config) -> Speaker:
    """The device's speaker with the real wake-word models, VAD and request confirmer."""
    gate = config.device.vad_gate_s if config.device.vad_gate else None
    return Speaker(
        OpenWakeWordListener(config.wakeword),
        WebRtcVad(config.vad),
        config.speaker,
        vad_gate_s=gate,
        confirm=RequestConfirmer(config.vad),
    )


class VaultSink:
    """The vault as the device's utterance sink, attributing every utterance to one member."""

    def __init__(self, vault: Vault, member: str) -> None:
        self.vault = vault
        self.member = vault.member(member).name

    def keep(self, utterance: Utterance) -> tuple[str, str] | None:
        """Encrypt and commit; None when retention keeps nothing."""
        record = self.vault.store(utterance, self.member)
        return None if record is None else (record, self.member)

    def note_discarded(self, event: Discarded) -> None:
        """Audit the discard (no audio)."""
        self.vault.note_discarded(event.reason, event.duration_s, event.model, event.file)

    def note_run(self, source: str, summary: Summary) -> None:
        """Audit the run's totals."""
        self.vault.note_run(
            source,
            summary.heard_s,
            summary.kept_s,
            summary.discarded_s,
            summary.wakes,
            summary.muted_s,
        )
