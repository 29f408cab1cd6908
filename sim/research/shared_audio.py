"""The human wake-word recordings of ``../shared/audio/wake/`` that keepmum's measurements use:
one list, read by ``scripts/make_request_sets.py`` and by the tests marked ``shared_audio``.

The recordings are not part of the repository (their licences are in that folder's
MANIFEST.md); a measurement that needs them names them from here, so a clip added or dropped
changes every user of the list at once.
"""

from __future__ import annotations

__all__ = ["HEARD_POSITIVES", "MISSED_BY_OPENWAKEWORD", "SHARED_POSITIVES"]

SHARED_POSITIVES: dict[str, tuple[str, ...]] = {
    "alexa": (
        "openwakeword/alexa_test.wav",
        "wyoming/alexa.wav",
        "pymicro/alexa/1.wav",
        "pymicro/alexa/2.wav",
        "pymicro/alexa/3.wav",
    ),
    "hey_jarvis": (
        "wyoming/hey_jarvis.wav",
        "pymicro/hey_jarvis/1.wav",
        "pymicro/hey_jarvis/2.wav",
        "pymicro/hey_jarvis/3.wav",
    ),
    "hey_mycroft": (
        "openwakeword/hey_mycroft_test.wav",
        "wyoming/hey_mycroft.wav",
        "pymicro/hey_mycroft/1.wav",
        "pymicro/hey_mycroft/2.wav",
        "pymicro/hey_mycroft/3.wav",
        "mycroft/hey_mycroft.wav",
    ),
    "hey_rhasspy": ("wyoming/hey_rhasspy.wav",),
}
"""Positives under ``wake/`` per built-in model, as MANIFEST.md lists them."""

MISSED_BY_OPENWAKEWORD = frozenset({"pymicro/hey_jarvis/1.wav"})
"""Positives the model itself misses: openWakeWord 0.5.1's own ``predict_clip`` peaks at 0.42
with hey_jarvis on this clip (made for microWakeWord). The device must agree with the model."""

HEARD_POSITIVES: tuple[str, ...] = tuple(
    clip
    for clips in SHARED_POSITIVES.values()
    for clip in clips
    if clip not in MISSED_BY_OPENWAKEWORD
)
"""The positives openWakeWord wakes on, model by model: the wake words of the request sets."""
