"""``keepmum listen --list-devices``: the input devices PortAudio sees, to pick ``--input-device``.

Kept out of ``cmd_device`` so that listing needs no configuration, vault or wake-word model.
"""

from __future__ import annotations

from typing import Any

from sim.commands._output import Output

__all__ = ["print_input_devices"]


def print_input_devices(out: Output, sounddevice_module: Any = None) -> int:
    """Print every device that can record; returns how many. AudioDeviceError without PortAudio.

    ``--json``: one line per device (``index``, ``name``, ``channels``, ``default_samplerate``,
    ``hostapi``, ``default``). Text: a table, and how to choose one.
    """
    from rich.table import Table

    from device.microphone import _sounddevice, input_devices

    sd = sounddevice_module if sounddevice_module is not None else _sounddevice()
    default_index = _default_input(sd)
    table = Table(title="input devices")
    for column in ("index", "name", "channels", "rate Hz", "host API", "default"):
        table.add_column(column)
    devices = input_devices(sd)
    for index, name in devices:
        info = sd.query_devices(index)
        hostapi = str(sd.query_hostapis(int(info["hostapi"]))["name"])
        row = {
            "index": index,
            "name": name,
            "channels": int(info["max_input_channels"]),
            "default_samplerate": float(info["default_samplerate"]),
            "hostapi": hostapi,
            "default": index == default_index,
        }
        out.emit(row)
        table.add_row(
            str(index),
            name,
            str(row["channels"]),
            f"{row['default_samplerate']:g}",
            hostapi,
            "*" if row["default"] else "",
        )
    if not out.json_lines:
        out.table(table)
        out.say_plain(
            "choose one with: keepmum listen --input-device INDEX (or part of its name); "
            "or set input_device under [device] in config.toml"
            if devices
            else "no input device found (is a microphone connected, and PortAudio installed?)"
        )
    return len(devices)


def _default_input(sd: Any) -> int | None:
    try:
        index = int(sd.default.device[0])
    except (TypeError, ValueError, IndexError):
        return None
    return index if index >= 0 else None
