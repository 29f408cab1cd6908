"""mkdocs hooks: add the pages that are made, not written, at build time.

Their text comes from docs/generate.py (the READMEs with their links mapped to site pages, the
command reference from click, the configuration reference from the settings); this module adds
them and the measurement and decision lists, which are made from their folders.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page


def _load_generate() -> types.ModuleType:
    """docs/generate.py, loaded by path: mkdocs loads this hook by path too, not as a package."""
    path = Path(__file__).resolve().parent / "generate.py"
    spec = importlib.util.spec_from_file_location("keepmum_docs_generate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate = _load_generate()

LISTS = {
    "measurements": (
        "Measurements",
        "One page per measurement, dated, each with the command that reproduces it. A "
        "figure lives on its page; the [request decision](../request-decision.md) gives the "
        "current ones.",
    ),
    "decisions": (
        "Decisions",
        "Short dated records of each change to the request decision: context, decision, "
        "consequences, and the measurement behind it.",
    ),
}


def folder_index(files: Files, folder: str) -> str:
    """A list of the dated pages in ``folder``, newest first, each by its first heading."""
    title, intro = LISTS[folder]
    lines = [f"# {title}\n", intro + "\n"]
    pages = sorted(
        (f for f in files if f.src_uri.startswith(f"{folder}/") and f.src_uri.endswith(".md")),
        key=lambda f: f.src_uri,
        reverse=True,
    )
    for page in pages:
        text = Path(page.abs_src_path).read_text(encoding="utf-8") if page.abs_src_path else ""
        heading = next((line[2:] for line in text.splitlines() if line.startswith("# ")), "")
        lines.append(f"- [{heading or page.src_uri}]({page.src_uri[len(folder) + 1 :]})")
    return "\n".join(lines) + "\n"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the made pages to the site."""
    for folder in LISTS:
        content = folder_index(files, folder)
        files.append(File.generated(config, f"{folder}/index.md", content=content))
    for source, page in generate.MIRRORED.items():
        text = (generate.ROOT / source).read_text(encoding="utf-8")
        files.append(
            File.generated(config, page, content=generate.rewrite_links(text, source, page))
        )
    files.append(File.generated(config, "reference/cli.md", content=generate.cli_reference()))
    files.append(
        File.generated(
            config, "reference/configuration.md", content=generate.configuration_reference()
        )
    )
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """A written page's links to files of the repository: README files become their pages, and
    other files (tests, source) their paths in code type; links within docs/ are left to mkdocs,
    which fails the strict build when one is broken."""
    if page.file.generated_by is not None:
        return markdown
    return generate.rewrite_links(markdown, f"docs/{page.file.src_uri}", page.file.src_uri)
