"""Enrolling a member's voice: the one path that ``keepmum member enrol`` (from files or from the
microphone) and the testers' :meth:`keepmum.Device.enrol` take.

The audio is only ever in RAM here; what is stored is the voiceprint
(:func:`wakeword.voice.enrol_voiceprint`: the mean embedding of 3-second pieces in quiet and in
synthetic babble), with its consent entry in the audit chain
(:meth:`storage.vault.Vault.enrol_voice`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyrage import x25519

from device.audio import SAMPLE_RATE, Pcm
from keepmum.errors import ConfigError
from storage.vault import Vault
from wakeword.voice import VOICE_MODEL_NAME, VoiceEncoder, enrol_voiceprint

__all__ = ["MIN_SPEECH_S", "Enrolled", "check_enrolment_audio", "enrol_voice"]

MIN_SPEECH_S = 1.0
"""Shortest enrolment audio in all (seconds): less than one of the model's partials is noise."""


@dataclass(frozen=True)
class Enrolled:
    """A voiceprint just stored."""

    member: str
    utterances: int
    model: str
    agreement: float
    """The lowest cosine of one utterance to the voiceprint: a low figure means one utterance is
    someone else's, or noise."""

    def event(self) -> dict[str, Any]:
        """The ``voice_enrolled`` event ``keepmum member enrol --json`` prints."""
        return {
            "event": "voice_enrolled",
            "member": self.member,
            "utterances": self.utterances,
            "model": self.model,
            "agreement": round(float(np.float32(self.agreement)), 4),
        }


def check_enrolment_audio(audio: Sequence[Pcm], where: str) -> None:
    """Refuse too little audio (a :class:`ConfigError` naming ``where``) before the vault is
    opened or a passphrase asked for."""
    total_s = sum(len(a) for a in audio) / SAMPLE_RATE
    if not audio or total_s < MIN_SPEECH_S:
        raise ConfigError(
            f"{where}: {total_s:.2f} s of audio in all; enrolling needs at least "
            f"{MIN_SPEECH_S:.0f} s of the member speaking"
        )


def enrol_voice(
    vault: Vault, member: str, identity: x25519.Identity, audio: Sequence[Pcm]
) -> Enrolled:
    """Enrol ``member``'s voice from ``audio`` (16 kHz mono int16, one array per utterance).

    ``identity`` is the member's, unlocked with their passphrase (:meth:`Vault.unlock`): that is
    how they consent, and the vault refuses anyone else's. Enrolling again replaces the
    voiceprint.
    """
    check_enrolment_audio(audio, f"member {member!r}")
    enrolment = enrol_voiceprint(VoiceEncoder(), audio)
    stored = vault.enrol_voice(
        member,
        enrolment.voiceprint,
        utterances=len(audio),
        model=VOICE_MODEL_NAME,
        identity=identity,
    )
    return Enrolled(stored.member, stored.utterances, stored.model, float(enrolment.agreement))
