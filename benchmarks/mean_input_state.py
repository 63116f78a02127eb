"""The membrane potential of the mean input, computed, against the ground truth's.  (A
diagnostic for a linearisation point of conductance-based synapses.)

For each postsynaptic population of the conductance-based network, a cell is given
the mean conductance of every synapse (recurrent connections: in-degree × |w| ×
waveform integral × presynaptic rate per segment, by the placement densities; the
extrinsic input spread by area), *each with its reversal potential* (unlike g_eff,
which adds the conductance with the leak's reversal), and settled to its steady state.
Its per-segment potential is compared with the time-averaged potential of ground-truth
cells measured by ``validation_depth.py --diagnose`` (``vm-*.npz`` in ``--workdir``):
at the reference placement (one cell at ``loc``, densities widened by ``scale``) and
averaged over the soma depths of the measured cells placed at their own depths.

    python benchmarks/mean_input_state.py --workdir DIR [--cells 500] [--seed 1234]
        [--rates spec|realised]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def steady_state(network, post: str, rates: dict, depth: float | None,
                 dt: float = 2.0 ** -4) -> np.ndarray:
    """Per-segment steady potential (mV) under the mean conductances, reversal included;
    ``depth``: None (reference placement, widened) or the soma depth offset (µm)."""
    from neuron import h

    from xkernels.engine import linearisation as lin
    from xkernels.engine.mechanisms import NEURON_LOCK
    from xkernels.engine.network_cell import NetworkCell

    pop = network.population(post)
    with NEURON_LOCK, NetworkCell(pop.cell, pop, dt, e_pas_default=-65.0) as cell:
        geo = cell.geometry
        cell.add_leak(lin.ext_leak_shift(pop, geo.area), pop.ext_synapse.e)
        z_mid = geo.z_mid if depth is None else geo.z_mid + depth
        spread = pop.scale if depth is None else 0.0
        for conn in network.inputs(post):
            p = lin.placement_probability(conn.placement, geo.sections, z_mid, geo.area,
                                          spread, "placement", depth is not None)
            k_in, _ = lin.synapse_counts(conn, network.population(conn.pre).size, pop.size)
            syn = conn.synapse
            cell.add_leak(lin.leak_shift(geo.area, p * k_in, syn.weight, syn.tau1, syn.tau2,
                                         rates[conn.pre]), syn.e)
        vecs = []
        for seg in cell.segments:
            vec = h.Vector()
            vec.record(seg._ref_v)
            vecs.append(vec)
        n = int(round(200.0 / dt))
        cell.simulate(n, np.zeros((1, cell.nseg)))
        return np.array([vec.as_numpy()[n - 1] for vec in vecs])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--rates", choices=("spec", "realised"), default="realised")
    args = parser.parse_args()

    from validation_depth import networks, realised_rates

    from xkernels.hybrid import correlated_poisson

    net, _ = networks()["conductance"]
    t_stop = 1000.0 * args.seconds
    rates = {p.name: p.rate for p in net.populations}
    if args.rates == "realised":
        spikes = correlated_poisson({p.name: p.size for p in net.populations}, rates,
                                    t_stop=t_stop, seed=args.seed, fluctuation=0.5,
                                    tau_c=20.0)
        rates = realised_rates(spikes, net, t_stop)
    vm = np.load(Path(args.workdir) / f"vm-{args.cells}-{args.seconds:g}-s{args.seed}.npz")
    print(f"rates ({args.rates}): " + ", ".join(f"{k} {v:.3f}/s" for k, v in rates.items()))
    print()
    print("| Y | segment (z at loc, µm) | measured (mean over cells) | mean input, reference "
          "placement | mean input, each cell at its depth |")
    print("| --- | --- | --- | --- | --- |")
    for post in ("E", "I"):
        measured = vm[f"{post}_v"].mean(axis=0)
        ref = steady_state(net, post, rates, None)
        own = np.mean([steady_state(net, post, rates, float(z - net.population(post).loc))
                       for z in vm[f"{post}_z_soma"]], axis=0)
        z_mid = vm[f"{post}_z_mid"]
        for i in np.argsort(z_mid):
            print(f"| {post} | {z_mid[i]:.0f} | {measured[i]:.2f} | {ref[i]:.2f} | "
                  f"{own[i]:.2f} |")
        print(f"| {post} | RMS difference to measured | | "
              f"{np.sqrt(np.mean((ref - measured) ** 2)):.2f} | "
              f"{np.sqrt(np.mean((own - measured) ** 2)):.2f} |")


if __name__ == "__main__":
    main()
