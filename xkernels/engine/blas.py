"""One BLAS thread for the linear solver's small matrix products.

The linear solver (:mod:`xkernels.engine.cable`) computes a kernel as a few products of
small matrices (channels × modes times modes × lags: 0.03–2 MFLOP each).  Above a size
threshold OpenBLAS splits such a product over its threads; for products this small the
hand-over costs more than it gives, and on a machine whose cores are busy with other
work a waiting thread costs far more (measured on this 2-core machine under load: the
microcircuit's 72 products took 290 ms of CPU with 2 threads, 9 ms with one).
:func:`one_blas_thread` limits BLAS to one thread while the linear solver runs
(``threadpoolctl``).  The numbers differ from a threaded run's by rounding only
(OpenBLAS may block the sums differently: 2e-28 nA µm on the microcircuit's kernels);
with the limit they do not depend on the machine's core count.  ``solver="neuron"``
runs without it.

The limit is process-wide while any computation holds it (counted, so that threads
computing kernels at once restore the caller's setting only when the last one leaves);
another thread's large BLAS call made meanwhile runs on one thread too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["one_blas_thread"]

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {"holders": 0, "libraries": None, "original": None}


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the body with BLAS limited to one thread (restored on exit).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.ones((40, 30))
    >>> with one_blas_thread():
    ...     float((a @ a.T)[0, 0])
    30.0
    """
    with _LOCK:
        if _STATE["holders"] == 0:
            libraries = _blas_libraries()
            # each library's own setting, restored when the last holder leaves (what
            # threadpoolctl's limit() does, without its per-call description of every
            # library: ~50 us a computation)
            _STATE["original"] = [lib.num_threads for lib in libraries]
            for lib in libraries:
                lib.set_num_threads(1)
        _STATE["holders"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["holders"] -= 1
            if _STATE["holders"] == 0:
                for lib, n in zip(_blas_libraries(), _STATE["original"]):
                    lib.set_num_threads(n)
                _STATE["original"] = None


def _blas_libraries() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded (found once: ~2 ms)."""
    if _STATE["libraries"] is None:
        from threadpoolctl import ThreadpoolController

        _STATE["libraries"] = ThreadpoolController().select(user_api="blas").lib_controllers
    return _STATE["libraries"]
