"""keepmum, in process: replay audio through the device and assert what it did.

::

    import keepmum

    run = keepmum.replay(keepmum.fixtures.path("alexa_time"))
    assert len(run.wakes) == 1 and len(run.kept) == 1

The public names are :data:`__all__`; each is imported when first used (PEP 562), so that
``import keepmum`` (and the pytest plugin) loads neither the device, its models, nor numpy, and
the low modules that live here too can be imported without pulling the layers above them in:
:mod:`keepmum.errors` (the one exception tree), :mod:`keepmum.files` (safe file writing) and
:mod:`keepmum.settings` (each setting's one declaration), which every layer may use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports them
    from keepmum import fixtures
    from keepmum.api import Audio, Device, Run, replay
    from keepmum.assertions import assert_events
    from keepmum.errors import AudioInputError, ConfigError, KeepmumError, VaultError

__all__ = [
    "Audio",
    "AudioInputError",
    "ConfigError",
    "Device",
    "KeepmumError",
    "Run",
    "VaultError",
    "__version__",
    "assert_events",
    "fixtures",
    "replay",
]

_WHERE = {
    "Audio": "keepmum.api",
    "Device": "keepmum.api",
    "Run": "keepmum.api",
    "replay": "keepmum.api",
    "assert_events": "keepmum.assertions",
    "AudioInputError": "keepmum.errors",
    "ConfigError": "keepmum.errors",
    "KeepmumError": "keepmum.errors",
    "VaultError": "keepmum.errors",
}
"""Each public name and the module that defines it."""


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
    elif name == "fixtures":
        value = importlib.import_module("keepmum.fixtures")
    elif name == "__version__":
        from importlib.metadata import version

        value = version("keepmum")
    else:
        raise AttributeError(f"module 'keepmum' has no attribute {name!r}")
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
