"""Command-line options that tune the device, turned into config overrides.

Each option maps to one ``config.toml`` key, so a setting means the same on the command line and
in the file, and is validated by the same code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from device.errors import ConfigError
from sim.options import FiniteFloat

__all__ = ["blame_from", "device_options", "overrides_from"]

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
    (
        "--refractory-s",
        "wakeword",
        "refractory_s",
        FiniteFloat(),
        "Seconds after a wake with no new wake.",
    ),
    ("--vad-aggressiveness", "vad", "aggressiveness", int, "webrtcvad mode 0-3."),
    ("--preroll-ms", "speaker", "preroll_ms", int, "Audio kept from before the wake (ms)."),
    ("--silence-ms", "speaker", "silence_ms", int, "Trailing silence that ends an utterance (ms)."),
    ("--max-utterance-s", "speaker", "max_utterance_s", FiniteFloat(), "Longest utterance (s)."),
    (
        "--speech-timeout-ms",
        "speaker",
        "speech_timeout_ms",
        int,
        "No speech this long after a wake: discard (ms).",
    ),
    (
        "--min-speech-ms",
        "speaker",
        "min_speech_ms",
        int,
        "Confirmed speech after the wake word that makes a request (ms).",
    ),
    (
        "--wake-tail-ms",
        "speaker",
        "wake_tail_ms",
        int,
        "Speech right after a wake still taken as the wake word's tail (ms).",
    ),
    (
        "--silero-threshold",
        "vad",
        "silero_threshold",
        FiniteFloat(),
        "Silero VAD probability (0-1) that confirms speech while awake.",
    ),
    (
        "--noise-margin-db",
        "vad",
        "noise_margin_db",
        FiniteFloat(),
        "A request must be this far above the room's noise floor (dB).",
    ),
    (
        "--retention-h",
        "vault",
        "retention_h",
        FiniteFloat(),
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
        value = float(text)
    except ValueError:
        raise ConfigError(f"--threshold {where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"--threshold {where}: {text!r} is not a finite number")
    return value


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
            if name.strip() in per_model:
                raise ConfigError(f"--threshold {item}: a second threshold for {name.strip()!r}")
            per_model[name.strip()] = _score(value, item)
        else:
            if "default_threshold" in tables.get("wakeword", {}):
                raise ConfigError(f"--threshold {item}: a second threshold for all models")
            tables.setdefault("wakeword", {})["default_threshold"] = _score(item, item)
    if per_model:
        tables.setdefault("wakeword", {})["thresholds"] = per_model
    if params.get("vad_gate"):
        tables.setdefault("device", {})["vad_gate"] = True
    return tables


def blame_from(params: dict[str, Any]) -> dict[tuple[str, str], str]:
    """``(section, key) -> "--option VALUE"`` for the options a user gave, so that a bad value
    is reported under the option that gave it (see :func:`sim.config.load_config`)."""
    labels: dict[tuple[str, str], str] = {}
    for option, section, key, _kind, _help in _SIMPLE:
        if params.get(key) is not None:
            labels[(section, key)] = f"{option} {params[key]}"
    if params.get("models"):
        labels[("wakeword", "models")] = " ".join(f"--model {m}" for m in params["models"])
    items = params.get("thresholds") or ()
    per_model = [i for i in items if "=" in i]
    default = [i for i in items if "=" not in i]
    if per_model:
        labels[("wakeword", "thresholds")] = " ".join(f"--threshold {i}" for i in per_model)
    if default:
        labels[("wakeword", "default_threshold")] = f"--threshold {default[-1]}"
    if params.get("vad_gate"):
        labels[("device", "vad_gate")] = "--vad-gate"
    return labels
