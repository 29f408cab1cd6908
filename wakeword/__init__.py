"""Wake-word detection (openWakeWord models on onnxruntime), voice activity, detection metrics."""

# Importing ``device`` first switches third-party telemetry off, before anything in this
# package can import onnxruntime (see device/telemetry.py).
import device  # noqa: F401
