"""Where tasks run: worker processes on dask.distributed, or this process.

One runtime for sweeps, hybrid ground truths, the CLI and ``validate``: the cluster's
lifecycle (a local cluster started on first use and closed after, the user's client or
scheduler address, or ``"sync"``), the threshold below which work runs here (starting
a cluster and importing NEURON in its workers costs seconds), objects scattered once
to every worker, results in submission order or as they finish, the progress bar and
the number of cores.
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

#: Work (s) below which the default runner computes here instead of starting a cluster.
INLINE_SECONDS = 3.0
#: Rough cost estimates (s) of sweep tasks, for the choice above.
SECONDS_PER_CELL = 0.05
SECONDS_PER_SIMULATION = 0.02
#: ... and of one kernel from the linear solver (a cached passive cell, no NEURON).
SECONDS_PER_LINEAR_KERNEL = 0.003


def cores() -> int:
    """Cores this process may run on: dask's count (CPU affinity and cgroup quota).

    Examples
    --------
    >>> cores() >= 1
    True
    """
    from dask.system import CPU_COUNT

    return CPU_COUNT


def check_client(client: Any) -> Any:
    """``client`` if it names a place to compute (see :class:`Runner`), else raise.

    Raises
    ------
    TypeError
        Naming the type received and what is allowed.
    ValueError
        A number of workers below 1.
    """
    if client is None or isinstance(client, str):
        return client
    if isinstance(client, int) and not isinstance(client, bool):
        if client < 1:
            raise ValueError(f"client as a number of worker processes must be >= 1, "
                             f"got {client}")
        return client
    from dask.distributed import Client

    if not isinstance(client, Client):
        raise TypeError(f"client must be None, 'sync', a number of worker processes, a "
                        f"scheduler address or a dask.distributed.Client, got "
                        f"{type(client).__name__}")
    return client


class Runner:
    """Runs tasks in worker processes (dask.distributed) or, with ``"sync"``, here.

    Parameters
    ----------
    client : None, "sync", int, str or distributed.Client
        ``None``: a local cluster of one single-threaded worker process per core,
        started on first use and closed by :meth:`close`; work estimated to take
        less than :data:`INLINE_SECONDS` while no cluster runs yet is done in this
        process instead.  An int: a local cluster of that many worker processes
        (always started).  A str is the address of a running scheduler.  ``"sync"``
        runs every task in this process, one by one.  A Client is used as it is
        (never closed here).

    Examples
    --------
    Tasks run here, one by one, with ``"sync"``; results come with the index of their
    arguments:

    >>> with Runner("sync") as runner:
    ...     sorted(runner.imap_unordered(pow, [(2, 3), (3, 2), (10, 0)]))
    [(0, 8), (1, 9), (2, 1)]

    With a dask.distributed client (here an in-process one with two worker threads)
    they run on its workers; :meth:`imap` gives them in submission order:

    >>> from dask.distributed import Client
    >>> client = Client(processes=False, n_workers=1, threads_per_worker=2,
    ...                 dashboard_address=None)
    >>> with Runner(client) as runner:
    ...     runner.parallelism(), list(runner.imap(pow, [(2, 3), (3, 2)]))
    (2, [8, 9])
    >>> client.status                  # a given client stays open: its owner closes it
    'running'
    >>> client.close()
    """

    def __init__(self, client: Any = None) -> None:
        self._given = check_client(client)
        self._client = None
        self._owned: list = []

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def sync(self) -> bool:
        """Whether every task runs in this process (``client="sync"``)."""
        return self._given == "sync"

    def client(self) -> Any:
        """The distributed client, starting the local cluster if needed.

        Returns
        -------
        dask.distributed.Client
        """
        if self._client is None:
            from dask.distributed import Client, LocalCluster

            if self._given is None or isinstance(self._given, int):
                cluster = LocalCluster(n_workers=self._given or cores(), threads_per_worker=1,
                                       processes=True, dashboard_address=None,
                                       silence_logs=logging.ERROR,
                                       preload=["xkernels.runtime"])  # dask_setup below
                self._client = Client(cluster)
                self._owned = [self._client, cluster]
            elif isinstance(self._given, str):
                self._client = Client(self._given)
                self._owned = [self._client]
            else:
                self._client = self._given
        return self._client

    def inline(self, seconds: float = math.inf) -> bool:
        """Whether work of ``seconds`` (estimated, in one process) runs here.

        Examples
        --------
        >>> Runner("sync").inline(), Runner().inline(0.5), Runner().inline(60.0)
        (True, True, False)
        """
        return self.sync or (self._given is None and self._client is None
                             and seconds < INLINE_SECONDS)

    def parallelism(self, seconds: float = math.inf) -> int:
        """Tasks run at once for work of ``seconds``: 1 here, else the worker threads."""
        if self.inline(seconds):
            return 1
        return max(1, sum(self.client().nthreads().values()))

    def imap_unordered(self, fn: Callable[..., Any], arguments: Sequence[tuple],
                       seconds: float = math.inf,
                       shared: Sequence[Any] = ()) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, fn(*shared, *arguments[i]))`` as tasks finish (any order).

        Parameters
        ----------
        fn : callable
            The task (picklable, for worker processes).
        arguments : sequence of tuple
            Positional arguments of every task.
        seconds : float
            Estimated total work (s, in one process): small work runs here while no
            cluster is running yet.
        shared : sequence
            Leading arguments common to every task, sent to every worker once.

        Yields
        ------
        tuple
            ``(i, result)``; unfinished tasks are cancelled when the iteration stops.
        """
        if self.inline(seconds):
            for i, args in enumerate(arguments):
                yield i, fn(*shared, *args)
            return
        from dask.distributed import as_completed

        client = self.client()
        scattered = client.scatter(list(shared), broadcast=True, hash=False) if shared else []
        futures = [client.submit(fn, *scattered, *args, pure=False) for args in arguments]
        position = {f.key: i for i, f in enumerate(futures)}
        try:
            for future, result in as_completed(futures, with_results=True):
                yield position[future.key], result
        finally:
            client.cancel(futures + list(scattered))

    def imap(self, fn: Callable[..., Any], arguments: Sequence[tuple],
             seconds: float = math.inf, shared: Sequence[Any] = ()) -> Iterator[Any]:
        """Yield ``fn(*shared, *arguments[i])`` in the order of ``arguments``.

        Results that finish early wait (in memory) for those before them; parameters
        as for :meth:`imap_unordered`.
        """
        pending: dict[int, Any] = {}
        following = 0
        for i, result in self.imap_unordered(fn, arguments, seconds, shared):
            pending[i] = result
            while following in pending:
                yield pending.pop(following)
                following += 1

    def close(self) -> None:
        """Close the client and cluster this runner started (not a given client)."""
        for obj in self._owned:
            obj.close()
        self._owned = []
        self._client = None


def dask_setup(worker: Any) -> None:
    """Preload hook of the local cluster's worker processes: they ignore SIGINT.

    A terminal's Ctrl-C reaches every process of the foreground group: the workers
    would die printing tracebacks while this process, interrupted too, closes them.
    Run by dask at each worker's start (``preload=["xkernels.runtime"]``), this leaves
    the interrupt to the process that started the cluster, whose runner closes it; a
    heartbeat that fails because the worker is being closed is not logged as an error.
    (A Ctrl-C while a worker process is still starting, before this runs, still ends
    it with a traceback.)
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def open_worker(record: logging.LogRecord) -> bool:
        return not (str(getattr(worker.status, "name", "")).startswith("clos")
                    and "heartbeat" in record.getMessage())

    logging.getLogger("distributed.worker").addFilter(open_worker)


def compute(*collections: Any, client: Any = None) -> tuple:
    """Compute dask collections where ``client`` says (:class:`Runner`'s choices).

    Parameters
    ----------
    *collections
        Dask collections (arrays, delayed objects such as ``to_zarr(compute=False)``).
    client : None, "sync", int, str or distributed.Client
        ``None``: dask's current scheduler (threads, or a Client the user made the
        default); ``"sync"``: this process, one task at a time; an int: a local cluster
        of that many worker processes, started and closed here; a str: the address of a
        running scheduler (connected and disconnected here); a Client: used as it is.

    Returns
    -------
    tuple
        The computed results, as :func:`dask.compute` returns them.

    Examples
    --------
    >>> import dask.array as da
    >>> compute(da.arange(4, chunks=2).sum(), client="sync")
    (np.int64(6),)
    """
    import dask

    check_client(client)
    if client is None:
        return dask.compute(*collections)
    if client == "sync":
        return dask.compute(*collections, scheduler="synchronous")
    with Runner(client) as runner:
        return dask.compute(*collections, scheduler=runner.client())


def progress_bar(total: int, progress: bool | None, desc: str, unit: str = "it") -> Any:
    """A tqdm progress bar on stderr (a context manager with ``update(n)``).

    Parameters
    ----------
    total : int
        Number of steps.
    progress : bool or None
        Show it; None shows it when ``total`` exceeds 10.
    desc, unit : str
        Label and unit of the steps.
    """
    from tqdm import tqdm

    show = total > 10 if progress is None else bool(progress)
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, file=sys.stderr,
                leave=False)
