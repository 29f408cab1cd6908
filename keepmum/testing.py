"""The device the ``keepmum_device`` fixture gives a test (:mod:`keepmum.pytest_plugin`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from keepmum.api import Device, Run
from keepmum.assertions import assert_events

__all__ = ["TestDevice"]


class TestDevice(Device):
    """A :class:`~keepmum.api.Device` that knows its test's file, so that an expected-events
    file is named relative to the test (``"expected/kitchen.json"`` beside it)."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, home: Path, *, test_file: Path, **settings: Any) -> None:
        super().__init__(home, **settings)
        self.test_file = test_file

    def assert_events(
        self,
        run: Run | Sequence[Mapping[str, Any]],
        expected: str | os.PathLike[str] | Sequence[Mapping[str, Any]],
        *,
        tolerance_s: float = 0.25,
        update: bool | None = None,
    ) -> None:
        """:func:`keepmum.assert_events`, a relative file name taken from the test's folder."""
        __tracebackhide__ = True
        if isinstance(expected, (str, os.PathLike)):
            expected = self.test_file.parent / expected
        assert_events(run, expected, tolerance_s=tolerance_s, update=update)
