"""Callables in a specification: ``module:qualname`` text for JSON, and back."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def callable_path(fun: Callable) -> str:
    """``module:qualname`` of a function (for JSON).

    Functions defined in ``__main__``, closures and lambdas are named too (so a
    specification can always be described and hashed) but cannot be imported back:
    :func:`import_callable` then raises a clear error.

    Examples
    --------
    >>> import math
    >>> callable_path(math.sqrt)
    'math:sqrt'
    """
    module = getattr(fun, "__module__", None) or "<unknown>"
    qualname = getattr(fun, "__qualname__", None) or repr(fun)
    return f"{module}:{qualname}"


def import_callable(path: str) -> Callable:
    """Import ``module:qualname``.

    Raises
    ------
    ValueError
        The path names no importable object (``__main__``, a closure, a lambda...).
    TypeError
        The object is not callable.

    Examples
    --------
    >>> import_callable("math:sqrt")(4.0)
    2.0
    """
    module_name, _, qualname = path.partition(":")
    if "<" in path or module_name == "__main__":
        raise ValueError(f"callable {path!r} cannot be imported: define it at "
                         "module level in an importable module to store it in a spec")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"callable {path!r} cannot be imported: {err}") from None
    if not callable(obj):
        raise TypeError(f"{path!r} is not callable")
    return obj
