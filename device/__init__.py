"""Audio sources, frames, the speaker state machine, the pre-roll ring, mute, endpointing."""

from device.telemetry import disable_telemetry as _disable_telemetry

# Before anything below can import onnxruntime (see device/telemetry.py).
_disable_telemetry()
