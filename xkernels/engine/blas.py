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
_STATE: dict[str, Any] = {"holders": 0, "limiter": None, "controller": None}


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
            if _STATE["controller"] is None:
                from threadpoolctl import ThreadpoolController

                _STATE["controller"] = ThreadpoolController()  # ~2 ms: once
            _STATE["limiter"] = _STATE["controller"].limit(limits=1, user_api="blas")
        _STATE["holders"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["holders"] -= 1
            if _STATE["holders"] == 0:
                _STATE["limiter"].restore_original_limits()
                _STATE["limiter"] = None
