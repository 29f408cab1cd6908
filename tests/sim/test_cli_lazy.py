"""The lazy command group: ``keepmum --help`` imports no command module and nothing heavy, and
its listing says what each command's own help says."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from sim.cli import COMMANDS, cli, load_command

# What `keepmum --help` must not pay for: the model runtimes, plotting, scipy and the wake-word
# models, nor numpy, the vault or rich (and so no command module: each imports what it needs at
# its top).
HEAVY = (
    "onnxruntime",
    "matplotlib",
    "scipy",
    "openwakeword",
    "pyopen_wakeword",
    "wakeword.models",
    "wakeword.backend",
    "sim.research",
    "sim.commands.far",
)


def test_help_imports_nothing_heavy() -> None:
    probe = (
        "import json, sys\n"
        "from sim.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert "Commands:" in done.stdout
    loaded = json.loads(done.stderr.strip().splitlines()[-1])
    heavy = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert heavy == []
    assert not [
        m for m in loaded if m.startswith("sim.commands.") and not m.startswith("sim.commands._")
    ]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_listing_matches_each_commands_own_help(name: str) -> None:
    command = load_command(COMMANDS[name][0])
    assert command.name == name
    for limit in (45, 60, 200):
        listed = click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit)
        assert listed == command.get_short_help_str(limit)


def test_every_command_resolves_through_the_group() -> None:
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        assert cli.get_command(ctx, name) is not None


def _leaves(command: click.Command, path: str) -> list[tuple[str, click.Command]]:
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        return [
            leaf
            for name in command.list_commands(ctx)
            for leaf in _leaves(command.get_command(ctx, name) or command, f"{path} {name}")
        ]
    return [(path, command)]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_option_help_shows_an_empty_range(name: str) -> None:
    # An unbounded number option once showed "[x<=None]" in --help.
    for path, command in _leaves(load_command(COMMANDS[name][0]), name):
        ctx = click.Context(command, info_name=path)
        assert "None]" not in command.get_help(ctx), path
