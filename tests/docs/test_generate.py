"""The site's made pages (docs/generate.py): links mapped to pages, and references that follow
the code. Runs with the test extra alone: generate.py needs no mkdocs."""

from __future__ import annotations

import dataclasses
import runpy
import types

import click

from sim.cli import COMMANDS, cli
from sim.config import Config
from tests.conftest import REPO

# docs/ is no package: the generator's functions, by running its file.
generate = types.SimpleNamespace(**runpy.run_path(str(REPO / "docs" / "generate.py")))


def test_links_between_readmes_and_docs_become_links_between_pages() -> None:
    readme = (
        "[tour](docs/tour.md) [rule](device/README.md#the-rule) [export](storage/EXPORT.md) "
        "[code](sim/cli.py) [`script`](scripts/make_request_sets.py) "
        "[web](https://age-encryption.org) [here](#why)"
    )
    assert generate.rewrite_links(readme, "README.md", "index.md") == (
        "[tour](tour.md) [rule](internals/device.md#the-rule) [export](vault/export.md) "
        "`code` `script` [web](https://age-encryption.org) [here](#why)"
    )
    storage = "[format](../docs/vault/format.md) [export](EXPORT.md) [up](../README.md)"
    assert generate.rewrite_links(storage, "storage/README.md", "internals/storage.md") == (
        "[format](../vault/format.md) [export](../vault/export.md) [up](../index.md)"
    )


def test_a_link_to_nothing_stays_a_link_so_that_the_strict_build_reports_it() -> None:
    text = "[gone](docs/missing.md) [lost](sim/missing.py)"
    assert generate.rewrite_links(text, "README.md", "index.md") == (
        "[gone](missing.md) [lost](sim/missing.py)"
    )


def test_a_written_page_links_to_readmes_as_pages_and_to_tests_as_paths() -> None:
    text = (
        "[internals](../device/README.md) [test](../tests/docs/test_tour.py) [tour](tour.md) "
        "[list](measurements/)"
    )
    assert generate.rewrite_links(text, "docs/privacy.md", "privacy.md") == (
        "[internals](internals/device.md) `test` [tour](tour.md) [list](measurements/index.md)"
    )
    assert generate.rewrite_links(
        "[the list](./)", "docs/measurements/x.md", "measurements/x.md"
    ) == ("[the list](index.md)")


def test_the_command_reference_has_every_command_and_its_own_help() -> None:
    page = generate.cli_reference()
    for name in COMMANDS:
        assert f"`keepmum {name}`" in page
    ctx = click.Context(cli, info_name="keepmum")
    vault = cli.get_command(ctx, "vault")
    assert isinstance(vault, click.Group)
    for name in vault.list_commands(ctx):
        assert f"`keepmum vault {name}`" in page
    assert "--passphrase-file NAME=FILE" in page
    assert "Traceback" not in page


def test_the_configuration_reference_has_every_key_with_its_default() -> None:
    page = generate.configuration_reference()
    config = Config()
    for section in ("device", "wakeword", "vad", "speaker", "vault"):
        assert f"## `[{section}]`" in page
        settings = getattr(config, section)
        for field in dataclasses.fields(settings):
            if field.init:
                assert f"| `{field.name}` |" in page, f"{section}.{field.name}"
    assert "| `room_margin_db` | dB |" in page
    assert "| `silence_ms` | ms |" in page
