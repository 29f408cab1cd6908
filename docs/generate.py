"""The pages of the site that are made, not written: their text, without mkdocs (so the tests
can check it with the test extra alone); docs/hooks.py adds them to the site at build time.

- ``index.md`` and ``internals/*.md`` are the repository's README files (each text lives in one
  place: the README beside its code), their links rewritten to the site's pages;
- ``reference/cli.md`` walks ``sim.cli``'s click group and prints every command's own help;
- ``reference/configuration.md`` lists every ``config.toml`` setting from the settings' one
  declaration (:mod:`keepmum.settings`, through ``sim.settings_doc``).

Nothing here is copied by hand, so the site cannot disagree with ``keepmum --help`` or the code.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from pathlib import Path

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


def configuration_reference() -> str:
    """Every ``config.toml`` setting, from the settings' one declaration (``sim.settings_doc``,
    which also writes the committed copy in docs/reference/ that GitHub readers see)."""
    from sim.settings_doc import configuration_reference as from_declarations

    return from_declarations()
