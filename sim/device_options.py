"""Command-line options that tune the device, turned into config overrides.

Each option maps to one ``config.toml`` key, so a setting means the same on the command line and
in the file, and is validated by the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from device.errors import ConfigError

__all__ = ["device_options", "overrides_from"]

F = TypeVar("F", bound=Callable[..., Any])

# (option, config section, config key, click type, help)
_SIMPLE: list[tuple[str, str, str, Any, str]] = [
    (
        "--trigger-frames",
        "wakeword",
        "trigger_frames",
        int,
        "Consecutive frames over threshold to fire.",
    ),
    ("--refractory-s", "wakeword", "refractory_s", float, "Seconds after a wake with no new wake."),
    ("--vad-aggressiveness", "vad", "aggressiveness", int, "webrtcvad mode 0-3."),
    ("--preroll-ms", "speaker", "preroll_ms", int, "Audio kept from before the wake (ms)."),
    ("--silence-ms", "speaker", "silence_ms", int, "Trailing silence that ends an utterance (ms)."),
    ("--max-utterance-s", "speaker", "max_utterance_s", float, "Longest utterance (s)."),
    (
        "--speech-timeout-ms",
        "speaker",
        "speech_timeout_ms",
        int,
        "No speech this long after a wake: discard (ms).",
    ),
    (
        "--retention-h",
        "vault",
        "retention_h",
        float,
        "Hours a kept record lives (0 keeps nothing).",
    ),
]


def device_options(func: F) -> F:
    """``--config``, ``--model``, ``--threshold``, ``--vad-gate`` and the tuning options above."""
    for option, _section, key, kind, help_text in reversed(_SIMPLE):
        func = click.option(option, key, type=kind, default=None, help=help_text)(func)
    func = click.option(
        "--vad-gate",
        is_flag=True,
        default=None,
        help="Run the speech-embedding model only while speech was heard in the last 1.5 s.",
    )(func)
    func = click.option(
        "--threshold",
        "thresholds",
        multiple=True,
        metavar="[MODEL=]SCORE",
        help="Wake threshold for all models, or MODEL=SCORE for one (repeatable).",
    )(func)
    func = click.option(
        "--model",
        "models",
        multiple=True,
        metavar="NAME|FILE",
        help="Wake-word model: a built-in name (`keepmum models` lists this install's) or a model "
        "file of the backend, .onnx or .tflite (repeatable; default from config: alexa).",
    )(func)
    func = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Configuration file (default: HOME/config.toml if it exists).",
    )(func)
    return func


def _score(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"--threshold {where!r}: {text!r} is not a number") from None


def overrides_from(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Config tables from the options a user actually gave."""
    tables: dict[str, dict[str, Any]] = {}
    for _option, section, key, _kind, _help in _SIMPLE:
        if params.get(key) is not None:
            tables.setdefault(section, {})[key] = params[key]
    if params.get("models"):
        tables.setdefault("wakeword", {})["models"] = list(params["models"])
    per_model: dict[str, float] = {}
    for item in params.get("thresholds") or ():
        if "=" in item:
            name, value = item.split("=", 1)
            per_model[name.strip()] = _score(value, item)
        else:
            tables.setdefault("wakeword", {})["default_threshold"] = _score(item, item)
    if per_model:
        tables.setdefault("wakeword", {})["thresholds"] = per_model
    if params.get("vad_gate"):
        tables.setdefault("device", {})["vad_gate"] = True
    return tables
