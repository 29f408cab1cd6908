"""The public surface of ``import keepmum`` is ``__all__``, each name resolves, and importing the
package (or loading its pytest plugin) imports none of the layers: the low modules that live in
``keepmum/`` too are imported by the layers, so the package must not import them back."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import keepmum

PUBLIC = [
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
"""The contract (docs/testers.md): a name leaves only with a new major version."""

LAYERS = ("device", "wakeword", "storage", "sim", "numpy", "keepmum.api")


def test_all_is_the_documented_public_surface() -> None:
    assert keepmum.__all__ == PUBLIC
    assert keepmum.__all__ == sorted(set(keepmum.__all__))


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_resolves_and_is_listed(name: str) -> None:
    assert getattr(keepmum, name) is not None
    assert name in dir(keepmum)


def test_the_names_are_the_ones_defined_below() -> None:
    from keepmum.api import Device, replay
    from keepmum.assertions import assert_events
    from keepmum.errors import ConfigError, KeepmumError

    assert keepmum.Device is Device and keepmum.replay is replay
    assert keepmum.assert_events is assert_events
    assert keepmum.ConfigError is ConfigError and issubclass(keepmum.ConfigError, KeepmumError)
    assert keepmum.fixtures.names()


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'replya'"):
        _ = keepmum.replya  # type: ignore[attr-defined]
    assert not hasattr(keepmum, "api_")


def _modules_after(code: str) -> list[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code", ["import keepmum", "import keepmum.pytest_plugin", "from keepmum import __version__"]
)
def test_importing_the_package_or_its_plugin_loads_no_layer(code: str) -> None:
    loaded = _modules_after(code)
    assert "keepmum" in loaded
    assert [m for m in loaded if any(m == x or m.startswith(x + ".") for x in LAYERS)] == []


def test_a_public_name_loads_the_layers_it_needs() -> None:
    loaded = _modules_after("import keepmum\nkeepmum.Device")
    assert "keepmum.api" in loaded and "sim.replay" in loaded


def test_the_package_is_typed() -> None:
    from importlib.resources import files

    assert files("keepmum").joinpath("py.typed").is_file()
