"""``keepmum models``: the wake-word models this install has, with the backend that runs them."""

from __future__ import annotations

from pathlib import Path

import click

from sim.commands._common import KeepmumCommand, json_option
from sim.commands._output import Output

__all__ = ["models"]


@click.command(cls=KeepmumCommand)
@json_option
def models(json_lines: bool) -> None:
    """List the built-in wake-word models of every installed backend; the device uses the first.

    One line per model (``--json``: ``model``, ``backend``, ``package``, ``in_use``: whether the
    device runs this backend, ``file``), then the model-file suffix ``--model FILE`` takes and
    where a Silero VAD model is, if any.
    """
    from rich.table import Table

    from wakeword.backend import available_backends, installed_backend, vad_model_path

    out = Output(json_lines)
    in_use = installed_backend()
    table = Table(title=f"wake-word models (the device uses the {in_use.name} backend)")
    for column in ("model", "backend", "device's backend", "file"):
        table.add_column(column)
    for backend in available_backends():
        used = backend.name == in_use.name
        for name in backend.builtin_models:
            path = backend.builtin(name)
            out.emit(
                {
                    "model": name,
                    "backend": backend.name,
                    "package": backend.package,
                    "in_use": used,
                    "file": str(path),
                }
            )
            table.add_row(name, backend.name, "yes" if used else "no", _short(path))
    if not json_lines:
        out.table(table)
        silero = vad_model_path()
        out.say(
            f"custom models: --model FILE{in_use.suffix} ({in_use.describe()}); "
            f"Silero VAD model: {silero if silero else 'none on this install'}"
        )


def _short(path: Path) -> str:
    parts = path.parts
    return str(Path(*parts[-3:])) if len(parts) > 3 else str(path)
