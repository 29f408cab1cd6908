"""The shapes of openWakeWord's features: mel rows, embedding windows, feature sizes.

Plain numbers in a module of their own, so that :mod:`wakeword.features` (the streaming
features) and :mod:`wakeword.incremental` (the staged embedding model it runs) both read them
without importing each other.
"""

from __future__ import annotations

from device.audio import FRAME_SAMPLES

__all__ = [
    "EMBEDDING_DIM",
    "EMBEDDING_WINDOW",
    "FIRST_FRAME_MEL_ROWS",
    "MEL_BINS",
    "MEL_CONTEXT_SAMPLES",
    "MEL_HOP_SAMPLES",
    "MEL_ROWS_PER_FRAME",
    "MEL_START_ROWS",
]

MEL_BINS = 32
"""Mel bins per spectrogram row."""
MEL_HOP_SAMPLES = 160
"""Samples between two mel rows (10 ms)."""
MEL_CONTEXT_SAMPLES = 480
"""Samples of the previous frame run through the mel model again with each frame."""
MEL_ROWS_PER_FRAME = FRAME_SAMPLES // MEL_HOP_SAMPLES
"""Mel rows a frame adds (8), except the first frame, which adds 5."""
FIRST_FRAME_MEL_ROWS = MEL_ROWS_PER_FRAME - MEL_CONTEXT_SAMPLES // MEL_HOP_SAMPLES
"""Mel rows of the first frame (5): it has no previous samples to overlap."""
MEL_START_ROWS = 76
"""Rows of ones the mel ring starts with (openWakeWord's initial buffer)."""
EMBEDDING_WINDOW = 76
"""Mel rows per speech embedding."""
EMBEDDING_DIM = 96
"""Values per speech embedding (one feature)."""
