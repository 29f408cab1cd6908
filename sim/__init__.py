"""keepmum's command line, configuration, scenarios, reports and benchmarks.

``sim`` is the only package that parses arguments, reads the environment, prints or exits.
"""

# Importing ``device`` first switches third-party telemetry off, before anything in this
# package can import onnxruntime (see device/telemetry.py).
import device  # noqa: F401
