"""Where sweep tasks run: worker processes on dask.distributed, or this process.

Also the rough cost model (seconds per cell, per simulation) the sweep uses to decide
whether starting a cluster pays, the lock that keeps NEURON to one cell at a time per
process, and the progress bar.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

#: Work (s) below which the default runner computes here instead of starting a cluster.
INLINE_SECONDS = 3.0
#: Rough cost estimates (s) of the tasks, for the choice above.
SECONDS_PER_CELL = 0.05
SECONDS_PER_SIMULATION = 0.02


class Runner:
    """Runs tasks in worker processes (dask.distributed) or, with ``"sync"``, here.

    Parameters
    ----------
    client : None, "sync", str or distributed.Client
        ``None``: a local cluster of one single-threaded worker process per core,
        started on first use and closed by :meth:`close`; work estimated to take
        less than :data:`INLINE_SECONDS` while no cluster runs yet is done in this
        process instead (starting the cluster and importing NEURON in its workers
        costs seconds).  A str is the address of a running scheduler.  ``"sync"``
        runs every task in this process, one by one.

    Examples
    --------
    Tasks run here, one by one, with ``"sync"``; results come with the index of their
    arguments:

    >>> runner = Runner("sync")
    >>> sorted(runner.imap_unordered(pow, [(2, 3), (3, 2), (10, 0)]))
    [(0, 8), (1, 9), (2, 1)]
    >>> runner.close()

    With a dask.distributed client (here an in-process one with two worker threads)
    they run on its workers:

    >>> from dask.distributed import Client
    >>> client = Client(processes=False, n_workers=1, threads_per_worker=2,
    ...                 dashboard_address=None)
    >>> runner = Runner(client)
    >>> runner.parallelism()
    2
    >>> sorted(result for _, result in runner.imap_unordered(pow, [(2, 3), (3, 2)]))
    [8, 9]
    >>> runner.close()
    >>> client.close()
    """

    def __init__(self, client: Any = None) -> None:
        if client is not None and not isinstance(client, str):
            from dask.distributed import Client

            if not isinstance(client, Client):
                raise TypeError(f"client must be None, 'sync', a scheduler address or a "
                                f"dask.distributed.Client, got {type(client).__name__}")
        self._given = client
        self._client = None
        self._owned: list = []

    @property
    def sync(self) -> bool:
        """Whether every task runs in this process (``client="sync"``).

        Examples
        --------
        >>> Runner("sync").sync, Runner().sync
        (True, False)
        """
        return self._given == "sync"

    def client(self) -> Any:
        """The distributed client (starting the local cluster if needed).

        Returns
        -------
        dask.distributed.Client
            The user's client, or one of a local cluster started on first use.

        Examples
        --------
        A given client is returned as it is (a scheduler address is connected to on
        first use; ``Runner()`` starts a local cluster of one worker process per core):

        >>> from dask.distributed import Client
        >>> client = Client(processes=False, n_workers=1, threads_per_worker=1,
        ...                 dashboard_address=None)
        >>> runner = Runner(client)
        >>> runner.client() is client
        True
        >>> runner.close()          # a given client stays open: its owner closes it
        >>> client.status
        'running'
        >>> client.close()
        """
        if self._client is None:
            from dask.distributed import Client, LocalCluster

            if self._given is None:
                cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
                    else (os.cpu_count() or 1)
                cluster = LocalCluster(n_workers=cores, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
                self._client = Client(cluster)
                self._owned = [self._client, cluster]
            elif isinstance(self._given, str):
                self._client = Client(self._given)
                self._owned = [self._client]
            else:
                self._client = self._given
        return self._client

    def _inline(self, seconds: float) -> bool:
        return self.sync or (self._given is None and self._client is None
                             and seconds < INLINE_SECONDS)

    def parallelism(self, seconds: float = math.inf) -> int:
        """Tasks run at once for work of ``seconds``: 1 here, else the worker threads.

        Parameters
        ----------
        seconds : float
            Estimated total work (s, in one process).

        Returns
        -------
        int
            The number of tasks running at once.

        Examples
        --------
        ``"sync"`` runs one task at a time; so does the default runner for small work
        (under :data:`INLINE_SECONDS`, no cluster is started for it):

        >>> Runner("sync").parallelism()
        1
        >>> Runner().parallelism(seconds=0.5)
        1
        """
        if self._inline(seconds):
            return 1
        return max(1, sum(self.client().nthreads().values()))

    def imap_unordered(self, fn: Callable[..., Any], arguments: Sequence[tuple],
                       seconds: float = math.inf) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, fn(*arguments[i]))`` as tasks finish (any order).

        Parameters
        ----------
        fn : callable
            The task (picklable, for worker processes).
        arguments : sequence of tuple
            Positional arguments of every task.
        seconds : float
            Estimated total work (s, in one process): small work runs here while no
            cluster is running yet.

        Yields
        ------
        tuple
            ``(i, result)``; unfinished tasks are cancelled when the iteration stops.

        Examples
        --------
        >>> runner = Runner("sync")
        >>> for i, total in runner.imap_unordered(sum, [([1, 2],), ([3, 4, 5],)]):
        ...     print(i, total)
        0 3
        1 12

        Small estimated work runs in this process even with the default runner:

        >>> list(Runner().imap_unordered(divmod, [(7, 2)], seconds=0.1))
        [(0, (3, 1))]
        """
        if self._inline(seconds):
            for i, args in enumerate(arguments):
                yield i, fn(*args)
            return
        from dask.distributed import as_completed

        client = self.client()
        futures = [client.submit(fn, *args, pure=False) for args in arguments]
        position = {f.key: i for i, f in enumerate(futures)}
        try:
            for future, result in as_completed(futures, with_results=True):
                yield position[future.key], result
        finally:
            client.cancel(futures)

    def close(self) -> None:
        """Close the client and cluster this runner started (not a given client).

        Examples
        --------
        Closing is safe at any time, also when nothing was started:

        >>> runner = Runner()
        >>> list(runner.imap_unordered(abs, [(-1,)], seconds=0.1))   # ran here
        [(0, 1)]
        >>> runner.close()
        >>> runner.close()
        """
        for obj in self._owned:
            obj.close()
        self._owned = []
        self._client = None


def progress_bar(total: int, progress: bool | None, desc: str) -> Any:
    """A tqdm progress bar on stderr (a context manager with ``update(n)``).

    Parameters
    ----------
    total : int
        Number of steps.
    progress : bool or None
        Show it; None shows it when ``total`` exceeds 10.
    desc : str
        Label.
    """
    from tqdm import tqdm

    show = total > 10 if progress is None else bool(progress)
    return tqdm(total=total, desc=desc, disable=not show, file=sys.stderr, leave=False)
