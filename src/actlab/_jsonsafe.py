"""JSON without NaN: results that hold diverged runs still serialise (strict JSON has no NaN)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["finite"]


def finite(x: Any) -> Any:
    """``x`` with every non-finite float (NaN, ±inf) replaced by None — null in JSON — and
    tuples as lists, recursively through dicts and lists."""
    if isinstance(x, dict):
        return {str(k): finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
