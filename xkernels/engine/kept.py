"""Results of the linear solver kept by the values of their inputs, within a memory budget.

A computation repeated in a process (the same membrane, weights, time constants, delay
filters, lags and probe matrix) gets the result the first one computed, bit for bit:
what is kept depends on nothing but its key.  Keys hold the values of the inputs
(arrays as bytes) except objects that are the same object whenever the computation is
the same (the solver of a membrane, a cell's probe matrix, planned delay filters):
those are keyed by identity and held by the entry, so that an identity is not reused
while its entry lives.  At most :data:`KEPT_BYTES` of results are kept in the process,
the least recently used dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["KEPT_BYTES", "keep", "kept", "key_of"]

#: Bytes of results kept in a process (the held inputs are not counted: they are kept
#: elsewhere anyway).
KEPT_BYTES = 64 * 2 ** 20

_LOCK = threading.Lock()
_ENTRIES: OrderedDict = OrderedDict()
_SIZE = {"bytes": 0}


def kept(key: tuple, held: tuple) -> np.ndarray | None:
    """The result kept under ``key`` whose held objects are ``held`` (by identity), or
    None.  The array must not be changed.

    Examples
    --------
    >>> import numpy as np
    >>> solver = object()
    >>> keep(("example", id(solver)), (solver,), np.arange(3.0))
    >>> kept(("example", id(solver)), (solver,))
    array([0., 1., 2.])
    >>> kept(("example", id(solver)), (object(),)) is None
    True
    """
    with _LOCK:
        found = _ENTRIES.get(key)
        if found is None or len(found[0]) != len(held) or \
                any(a is not b for a, b in zip(found[0], held)):
            return None
        _ENTRIES.move_to_end(key)
        return found[1]


def keep(key: tuple, held: tuple, value: np.ndarray) -> None:
    """Keep ``value`` (not to be changed afterwards) under ``key``, holding ``held``;
    the least recently used results are dropped beyond :data:`KEPT_BYTES`.

    Examples
    --------
    >>> import numpy as np
    >>> keep(("example", 1), (), np.zeros(2))
    >>> kept(("example", 1), ())
    array([0., 0.])
    """
    if value.nbytes > KEPT_BYTES:
        return
    with _LOCK:
        old = _ENTRIES.pop(key, None)
        if old is not None:
            _SIZE["bytes"] -= old[1].nbytes
        _ENTRIES[key] = (tuple(held), value)
        _SIZE["bytes"] += value.nbytes
        while _SIZE["bytes"] > KEPT_BYTES and _ENTRIES:
            _, (_, dropped) = _ENTRIES.popitem(last=False)
            _SIZE["bytes"] -= dropped.nbytes


def key_of(*parts: Any) -> tuple:
    """A key of arrays (by value: dtype, shape, bytes) and hashable parts.

    Examples
    --------
    >>> import numpy as np
    >>> key_of(np.zeros(2), 1.5) == key_of(np.zeros(2), 1.5)
    True
    >>> key_of(np.zeros(2), 1.5) == key_of(np.zeros((1, 2)), 1.5)
    False
    """
    return tuple((p.dtype.str, p.shape, p.tobytes()) if isinstance(p, np.ndarray) else p
                 for p in parts)
