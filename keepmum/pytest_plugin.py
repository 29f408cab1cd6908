"""keepmum's pytest plugin, loaded through the ``pytest11`` entry point wherever keepmum is
installed: the ``keepmum_device`` fixture, the ``keepmum`` marker and ``--keepmum-update``.

Loading it costs nothing: it imports only pytest, and the device only in a test that asks for
``keepmum_device`` (or runs with ``--keepmum-update``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from keepmum.testing import TestDevice

__all__ = ["keepmum_device"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("keepmum")
    group.addoption(
        "--keepmum-update",
        action="store_true",
        default=False,
        help="Rewrite the expected-events files that keepmum.assert_events compares with, "
        "from this run's events, instead of comparing.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "keepmum(**settings): settings of the keepmum_device fixture, named as config.toml's "
        "keys (silence_ms=600, models=['alexa']), store=True to store.",
    )
    if config.getoption("keepmum_update", default=False):
        from keepmum.assertions import set_update

        set_update(True)


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.getoption("keepmum_update", default=False):
        from keepmum.assertions import set_update

        set_update(False)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if config.getoption("keepmum_update", default=False):
        from keepmum.assertions import updated_files

        rewritten = updated_files()
        terminalreporter.write_line(f"keepmum: rewrote {len(rewritten)} expected-events file(s)")
        for path in rewritten:
            terminalreporter.write_line(f"  {path}")


@pytest.fixture
def keepmum_device(request: pytest.FixtureRequest, tmp_path: Path) -> TestDevice:
    """A device with a throwaway home under ``tmp_path`` (no vault: nothing is stored unless the
    test calls ``init_vault()``), default settings, then those of the test's ``keepmum`` marker
    (``@pytest.mark.keepmum(silence_ms=600)``); ``configure(...)`` changes them in the test."""
    from keepmum.testing import TestDevice

    device = TestDevice(tmp_path / "keepmum-home", test_file=Path(str(request.path)))
    for marker in reversed(list(request.node.iter_markers("keepmum"))):
        if marker.args:
            raise pytest.UsageError(
                f"@pytest.mark.keepmum takes settings by keyword only, got {marker.args!r}"
            )
        device.configure(**marker.kwargs)
    return device
