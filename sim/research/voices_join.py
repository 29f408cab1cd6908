"""Speakers of short files (spoken digits) made into speakers of longer utterances.

``keepmum voices --join-short SECONDS``: a corpus whose every file is shorter than a 3-second
request (FSDD: 0.3-0.8 s digits) cannot be measured on the issue's requests as it is. Its files
are joined, per speaker, into utterances of at least SECONDS:

- the files in *take order* (:func:`take_order`): by the last number in the name, then by name.
  FSDD names a file ``<digit>_<speaker>_<take>``, so the order is take 0's digits 0-9, then take
  1's, and an utterance of up to ten files holds ten different digits ("four five six seven",
  never "zero zero zero");
- consecutive files joined with :data:`JOIN_GAP_S` of silence between them (short enough that
  the voice encoder's silence trimming keeps it), until the utterance is SECONDS or longer; a
  last remainder shorter than that is left out;
- the first ``enrol`` utterances enrol, the rest are requests: no file is in both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from device.audio import SAMPLE_RATE
from device.sources import read_audio
from keepmum.errors import ConfigError
from sim.research.voices import AUDIO_SUFFIXES, Speaker

__all__ = ["JOINED_SUFFIX", "JOIN_GAP_S", "join_plan", "load_joined_speaker", "take_order"]

JOIN_GAP_S = 0.2
"""Silence between two joined files: a short pause between words."""
JOINED_SUFFIX = "-joined"
"""A joined corpus is reported as ``<corpus>-joined``."""

_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def take_order(files: Sequence[Path]) -> list[Path]:
    """``files`` by the last number in the name (no number: first), then by name."""

    def key(path: Path) -> tuple[int, str]:
        found = _LAST_NUMBER.search(path.stem)
        return (int(found.group(1)) if found else -1, path.name)

    return sorted(files, key=key)


def join_plan(lengths: Sequence[int], seconds: float, gap_s: float = JOIN_GAP_S) -> list[range]:
    """Which consecutive files (by index) make each utterance: files of ``lengths`` samples
    joined with ``gap_s`` of silence until the utterance reaches ``seconds``; a last remainder
    shorter than that is left out."""
    need = round(seconds * SAMPLE_RATE)
    gap = round(gap_s * SAMPLE_RATE)
    plan = []
    start, total = 0, 0
    for index, length in enumerate(lengths):
        total += length + (gap if index > start else 0)
        if total >= need:
            plan.append(range(start, index + 1))
            start, total = index + 1, 0
    return plan


def load_joined_speaker(folder: Path, enrol: int, seconds: float) -> Speaker:
    """A speaker folder of short files as utterances of ``seconds`` or more (:func:`join_plan`
    over :func:`take_order`): the first ``enrol`` enrol, the rest are requests. ConfigError
    naming the folder if there are not ``enrol + 1`` utterances."""
    files = take_order([f for f in folder.iterdir() if f.suffix.lower() in AUDIO_SUFFIXES])
    clips = [read_audio(f) for f in files]
    gap = np.zeros(round(JOIN_GAP_S * SAMPLE_RATE), np.int16)
    utterances: list[npt.NDArray[np.int16]] = []
    for group in join_plan([len(c) for c in clips], seconds):
        parts: list[npt.NDArray[np.int16]] = []
        for index in group:
            parts += [gap, clips[index]] if parts else [clips[index]]
        utterances.append(np.concatenate(parts))
    if len(utterances) <= enrol:
        raise ConfigError(
            f"{folder}: its {len(files)} files make {len(utterances)} utterances of {seconds:g} s; "
            f"{enrol} enrol, so at least {enrol + 1} are needed"
        )
    return Speaker(folder.name, utterances[:enrol], utterances[enrol:])
