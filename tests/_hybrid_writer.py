"""A hybrid simulation written to a store, as a process the resume test kills.

Usage (from the worktree root)::

    python tests/_hybrid_writer.py STORE [sync]

Runs :func:`xkernels.hybrid.simulate` of :func:`case` on a LocalCluster of two worker
processes (or, with ``sync``, in this process) with ``store=STORE``, one cell per
batch, and prints ``started`` (flushed) once the inputs are checked.  With
``XKERNELS_KILL_AT`` naming a kill point (:mod:`xkernels.store.publish`) the process
kills itself there.
"""

from __future__ import annotations

import sys

import lfpykit
import numpy as np

import xkernels
from xkernels.hybrid import correlated_poisson
from xkernels.spec import Network

T_STOP = 250.0


def case(n_e: int = 24, n_i: int = 6):
    """Network, spikes and probes of the resume/worker tests."""
    d = Network.example().to_dict()
    d["populations"][0]["size"] = n_e
    d["populations"][1]["size"] = n_i
    for c in d["connections"]:
        c["probability"] = 0.3
    net = Network.from_dict(d)
    sizes = {p.name: p.size for p in net.populations}
    spikes = correlated_poisson(sizes, {"E": 10.0, "I": 20.0}, t_stop=T_STOP, seed=7,
                                fluctuation=0.3)
    probes = {"lfp": lfpykit.PointSourcePotential(cell=None, x=np.full(4, 10.0),
                                                  y=np.zeros(4),
                                                  z=np.array([800.0, 400.0, 0.0, -200.0]),
                                                  sigma=0.3),
              "cdm": xkernels.CurrentDipoleMomentZ()}
    return net, spikes, probes


if __name__ == "__main__":
    from dask.distributed import Client, LocalCluster

    from xkernels.hybrid import simulate

    net, spikes, probes = case()
    if sys.argv[2:] == ["sync"]:
        print("started", flush=True)
        simulate(net, spikes, probes, t_stop=T_STOP, client="sync", store=sys.argv[1],
                 batch_size=1, progress=False, n_cells={"E": 3, "I": 2})
        print("finished", flush=True)
        raise SystemExit(0)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        print("started", flush=True)
        simulate(net, spikes, probes, t_stop=T_STOP, client=client, store=sys.argv[1],
                 batch_size=1, progress=False)
    print("finished", flush=True)
