"""The streaming feature rings: start features, bounded buffers, row bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest

from wakeword.features import (
    EMBEDDING_DIM,
    START_FEATURE_FRAMES,
    StreamingFeatures,
    _Rows,
    start_features,
)


def test_start_features_are_seeded_and_read_only() -> None:
    features = start_features()
    assert features.shape == (START_FEATURE_FRAMES, EMBEDDING_DIM)
    assert features.dtype == np.float32 and np.isfinite(features).all()
    assert not features.flags.writeable
    assert start_features() is features  # computed once per process


def test_rows_keep_absolute_indices_across_compaction() -> None:
    rows = _Rows(width=2, keep=4)
    for value in range(20):
        rows.extend(np.full((1, 2), value, dtype=np.float32))
    assert rows.end == 20 and rows.first <= 16
    assert rows.span(16, 20)[:, 0].tolist() == [16, 17, 18, 19]
    with pytest.raises(IndexError):
        rows.span(0, 2)
    rows.fill(22, np.nan)
    assert rows.end == 22 and np.isnan(rows.span(20, 22)).all()
    rows.fill(1000, np.nan)  # a gap longer than what is kept: nothing old survives
    assert rows.end == rows.first == 1000


def test_pending_frames_are_bounded_while_nobody_asks() -> None:
    stream = StreamingFeatures(max_feature_frames=16)
    frame = np.zeros(1280, dtype=np.int16)
    for _ in range(500):
        stream.push_mel(frame)
    assert stream.frames == 500
    assert len(stream._pending) == 16 + 10
    features = stream.features(16)
    assert features.shape == (16, EMBEDDING_DIM) and np.isfinite(features).all()
    with pytest.raises(ValueError, match="ring sized for 16"):
        stream.features(17)
