"""``scripts/mutation.py`` without running mutmut: its configuration, the scratch copy's
pyproject, the verdict against the bar, and bad usage (exit 2)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from tests.e2e.conftest import REPO


def _script() -> ModuleType:
    path = REPO / "scripts" / "mutation.py"
    spec = importlib.util.spec_from_file_location("mutation_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation_script"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


mutation = _script()


def test_every_configured_module_and_test_file_exists() -> None:
    config = mutation.load_config(REPO / "pyproject.toml")
    targets = mutation.targets(config)
    assert set(config["mutation"]["ci"]) <= set(targets)
    assert set(config["mutation"]["ci"]) == {
        "storage/retention.py",
        "storage/audit.py",
        "wakeword/trigger.py",
        "wakeword/stats.py",
        "device/states.py",
        "storage/ledger.py",
    }
    assert config["mutation"]["bar"] == 90.0
    for target in targets.values():
        assert (REPO / target.module).is_file(), target.module
        assert target.tests and all((REPO / t).is_file() for t in target.tests), target


def test_the_scratch_pyproject_names_one_module_and_its_tests_only() -> None:
    config = mutation.load_config(REPO / "pyproject.toml")
    target = mutation.targets(config)["storage/audit.py"]
    text = mutation.without_mutation_tables((REPO / "pyproject.toml").read_text())
    text += mutation.mutmut_toml(config["mutmut"], target)
    data = mutation.tomllib.loads(text)
    assert "keepmum" not in data["tool"]
    assert data["tool"]["mutmut"]["only_mutate"] == ["storage/audit.py"]
    assert data["tool"]["mutmut"]["pytest_add_cli_args_test_selection"] == [
        "tests/storage/test_audit.py"
    ]
    assert data["tool"]["mutmut"]["timeout_constant"] == config["mutmut"]["timeout_constant"]
    assert data["tool"]["pytest"]["ini_options"]["markers"]  # what the tests need stays


def _score(killed: int, timeout: int, survived: int) -> object:
    total = killed + timeout + survived
    return mutation.Score("m.py", killed, timeout, survived, 0, total, 10.0, 5.0, ())


def test_a_timeout_counts_as_killed_and_the_bar_is_inclusive() -> None:
    at_bar = _score(80, 10, 10)
    assert (at_bar.caught, at_bar.percent) == (90, 90.0)
    assert mutation.report(at_bar, 90.0).endswith(": ok")
    under = _score(89, 0, 11)
    assert mutation.report(under, 90.0).endswith("UNDER THE BAR (90 %)")
    assert "89 of 100 killed (89 killed, 0 timeouts), 11 survived" in mutation.report(under, 90)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "name a module"),
        (["storage/nowhere.py"], "not a configured module: storage/nowhere.py"),
        (["--bar", "101", "storage/audit.py"], "--bar must be 0-100"),
        (["--keep", "x", "storage/audit.py", "wakeword/trigger.py"], "--keep takes one module"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mutation.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_list_names_every_module_with_its_tests(capsys: pytest.CaptureFixture[str]) -> None:
    assert mutation.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "storage/retention.py: tests/storage/test_retention.py\n" in out
