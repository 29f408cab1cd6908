"""The form of every ``--json`` line's values: rounded floats, NaN as null.

One definition for what commands print and what :func:`keepmum.replay` returns, so that a line a
script reads and a dict a test holds are equal.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["jsonable"]


def jsonable(value: Any) -> Any:
    """Round floats so that lines stay readable and stable: 4 decimals, or 6 significant digits
    below 1, so that small values (an interval's lower end, a false-reject rate of 1e-5) are
    not flattened to 0. NaN becomes null. Applying it twice changes nothing."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return float(f"{value:.6g}") if abs(value) < 1 else round(value, 4)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
