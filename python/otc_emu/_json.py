"""JSON as the standard (RFC 8259) allows it: Python's ``json`` writes ``NaN`` and ``Infinity``,
which are not JSON and which many readers refuse. Every JSON that otc-emu prints or returns goes
through :func:`dumps`, which writes a non-finite float as ``null``."""
from __future__ import annotations

import json
import math
from typing import Any


def finite(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, +-Inf, also NumPy floats) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if hasattr(obj, "dtype") and getattr(obj, "shape", None) == ():  # a NumPy scalar
        return finite(obj.item())
    return obj


def dumps(obj: Any, **kwargs) -> str:
    """``json.dumps`` with non-finite floats written as null (never ``NaN`` / ``Infinity``)."""
    return json.dumps(finite(obj), allow_nan=False, **kwargs)
