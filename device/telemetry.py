"""Third-party telemetry, switched off before any dependency can start it.

onnxruntime (1.32, pulled in by openWakeWord) ships telemetry: on import it writes a device id
and an event database under ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/`` and a ``.ses``
file in the temp folder, and about 10 s later resolves ``mobile.events.data.microsoft.com`` and
connects to it. Only the environment variable ``ORT_DISABLE_TELEMETRY=1``, set before the first
``import onnxruntime``, stops all of it; ``onnxruntime.disable_telemetry_events()`` after the
import leaves the files and the connection in place (checked under strace, see
storage/README.md's threat model).

:func:`disable_telemetry` runs when any of keepmum's packages is imported (their
``__init__``), so it precedes every import of onnxruntime in the CLI, in library use, and in
worker processes: a spawned multiprocessing or Dask worker imports ``wakeword`` to unpickle its
task before it can touch a model, and inherits the variable from its parent besides. The value
is forced, not defaulted: a stray ``ORT_DISABLE_TELEMETRY=0`` must not turn it back on.
"""

from __future__ import annotations

import os

__all__ = ["TELEMETRY_OFF", "disable_telemetry"]

TELEMETRY_OFF: dict[str, str] = {"ORT_DISABLE_TELEMETRY": "1"}
"""Environment settings that keep every checked dependency from phoning home."""


def disable_telemetry() -> None:
    """Set :data:`TELEMETRY_OFF` in this process's environment (inherited by its children)."""
    os.environ.update(TELEMETRY_OFF)
