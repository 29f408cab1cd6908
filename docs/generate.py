"""The pages of the site that are made, not written: their text, without mkdocs (so the tests
can check it with the test extra alone); docs/hooks.py adds them to the site at build time.

- ``index.md`` and ``internals/*.md`` are the repository's README files (each text lives in one
  place: the README beside its code), their links rewritten to the site's pages;
- ``reference/cli.md`` walks ``sim.cli``'s click group and prints every command's own help;
- ``reference/configuration.md`` lists every ``config.toml`` key from the settings dataclasses
  (default, meaning and unit from each field's docstring; the command-line option if there is one).

Nothing here is copied by hand, so the site cannot disagree with ``keepmum --help`` or the code.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import posixpath
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parent.parent

# Repository files shown as site pages: repository path -> page path in the site.
MIRRORED = {
    "README.md": "index.md",
    "device/README.md": "internals/device.md",
    "wakeword/README.md": "internals/wakeword.md",
    "storage/README.md": "internals/storage.md",
    "storage/EXPORT.md": "vault/export.md",
    "sim/README.md": "internals/sim.md",
    "sim/research/README.md": "internals/research.md",
    "sim/data/README.md": "internals/bundled-audio.md",
}

_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def _site_target(source: str, page: str, target: str, root: Path) -> str | None:
    """Where a relative link of repository file ``source`` points from site page ``page``:
    a page's path, or None for a file of the repository that is no page (code, a folder)."""
    path, _, anchor = target.partition("#")
    resolved = (
        posixpath.normpath(posixpath.join(posixpath.dirname(source), path)) if path else source
    )
    if resolved in MIRRORED:
        site = MIRRORED[resolved]
    elif resolved.startswith("docs/") and (root / resolved).is_dir():
        site = resolved[len("docs/") :] + "/index.md"  # a folder's list (decisions/, ...)
    elif resolved.startswith("docs/") or not (root / resolved).exists():
        # A page of docs/, or a path that exists nowhere: left a link, so that mkdocs --strict
        # reports it when it is broken.
        site = resolved[len("docs/") :] if resolved.startswith("docs/") else resolved
    else:
        return None
    relative = posixpath.relpath(site, posixpath.dirname(page) or ".")
    return relative + (f"#{anchor}" if anchor else "")


def rewrite_links(text: str, source: str, page: str, root: Path = ROOT) -> str:
    """``text`` of repository file ``source`` as site page ``page``: links to pages (README
    files included) point at their pages; links to other files of the repository (source files,
    folders) become the path in code type, as the site does not carry them."""

    def one(match: re.Match[str]) -> str:
        label, target = match.group(1), match.group(2)
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            return match.group(0)
        site = _site_target(source, page, target, root)
        if site is not None:
            return f"[{label}]({site})"
        return label if label.startswith("`") else f"`{label}`"

    return _LINK.sub(one, text)


def _command_help(command: click.Command, path: list[str]) -> Iterator[str]:
    ctx = click.Context(
        command, info_name=" ".join(path), terminal_width=100, max_content_width=100
    )
    yield f"{'#' * min(len(path) + 1, 6)} `{' '.join(path)}`\n"
    yield "```text"
    yield command.get_help(ctx)
    yield "```\n"
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _command_help(sub, [*path, name])


def cli_reference() -> str:
    """Every command's ``--help``, as ``keepmum`` prints it, walked from the click group."""
    from sim.cli import cli

    lines = [
        "# Command reference\n",
        "Generated at build time from the click commands themselves (`docs/hooks.py`): each "
        "section is exactly what `keepmum ... --help` prints.\n",
    ]
    lines.extend(_command_help(cli, ["keepmum"]))
    return "\n".join(lines)


def _field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass (the string right after each field)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        if not isinstance(tree.body[0], ast.ClassDef):
            continue
        body = tree.body[0].body
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return docs


def _options_by_key() -> dict[tuple[str, str], str]:
    """``(section, key) -> --option`` for the settings the device commands take as options."""
    try:
        from sim.commands import _common
    except ImportError:  # the option table moved: the reference still lists every key
        return {}
    table: Any = getattr(_common, "_SIMPLE", [])
    return {(entry[1], entry[2]): entry[0] for entry in table}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(_show(v).strip("`") for v in value) + "]`"
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def configuration_reference() -> str:
    """Every ``config.toml`` key with its default, meaning and command-line option."""
    from sim.config import Config

    options = _options_by_key()
    lines = [
        "# Configuration reference\n",
        "Generated at build time from the settings dataclasses (`docs/hooks.py`). "
        "`keepmum init` writes these defaults to `HOME/config.toml`; `keepmum config show` "
        "prints the settings in force. A key set on the command line wins over the file.\n",
    ]
    for section in dataclasses.fields(Config):
        cls = section.default_factory
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            continue
        defaults = cls()
        docs = _field_docs(cls)
        lines.append(f"## `[{section.name}]`\n")
        if cls.__doc__:
            lines.append(inspect.cleandoc(cls.__doc__).split("\n\n")[0] + "\n")
        lines.append("| key | default | option | meaning |")
        lines.append("|---|---|---|---|")
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            value = getattr(defaults, f.name)
            if isinstance(value, tuple) and value and isinstance(value[0], tuple):
                value = ", ".join(f"{k}={v}" for k, v in value) or "(none)"
            option = options.get((section.name, f.name), "")
            meaning = docs.get(f.name, "").replace("|", "\\|")
            option_cell = f"`{option}`" if option else ""
            lines.append(f"| `{f.name}` | {_show(value)} | {option_cell} | {meaning} |")
        lines.append("")
    return "\n".join(lines)
