"""Why the error estimate moved with its ensemble seed at the phase reversal (issue 24).

The networks and stored ground truths are those of ``benchmarks/error_estimate.py``
(``truth`` writes them). Three measurements, none of them runs NEURON:

``realised``
    The realised network's own single-cell kernels: every presynaptic neuron's kernel
    built from the ground truth's wiring (the hybrid scheme's positions, targets,
    multapses, segments and delays; the ensemble's unit responses), superposed with the
    network's spikes, against the stored truth (current-based: exact to the unit
    responses' length; conductance-based: regressed with per-(X, Y)-and-channel gains
    of every cell); the realised heterogeneity ``Σ_i s_i ∗ (h_i - h̄)`` and bias
    ``ν ∗ (h̄ - H)`` of the prediction, and the estimate's formula evaluated with the
    realised kernels.
``realisations``
    The same for other wirings of the same network (``--wirings``): how much the
    measured relative error itself varies between realisations of a network whose
    estimate is one number.
``pool``
    The pool's expected kernel per target position averaged over the pool
    (the ensemble's estimate of the mean single-cell kernel) for ensemble seeds
    (``--seeds``), with independent and with stratified positions: its spread.

    nice -n 10 python benchmarks/error_seed.py realised --only current-corr
    nice -n 10 python benchmarks/error_seed.py realisations --only current-corr --wirings 20
    nice -n 10 python benchmarks/error_seed.py pool --only current-corr --seeds 6
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from error_estimate import DT, SEED, cases, probes, spikes_of  # noqa: E402

T_STOP, SKIP_MS = 2000.0, 100.0


def setup(name: str):
    import xkernels
    from xkernels.engine import prepare_kernels
    from xkernels.errors.estimate import _causal, ensemble_options

    net, sopt, kopt, ext = cases()[name]
    options = xkernels.KernelOptions(dt=DT, **kopt).resolve(net)
    plan = prepare_kernels(net, probes(), ensemble_options(net, options))
    H = xkernels.compute_kernels(net, probes(), options)
    used = _causal(H, list(plan.X), list(plan.Y), DT, plan.grid.n_response)
    return net, sopt, ext, plan, used


def realised_kernels(net, plan, ext, spikes, wiring: int) -> dict:
    """Every presynaptic neuron's single-cell kernel in the wiring ``wiring``:
    {X: (N_X, Y, channels, n + 1)}."""
    from xkernels.engine.cells import LinearisedCell
    from xkernels.errors.ensemble import placed, segment_responses
    from xkernels.hybrid.ground_truth import cell_matrix
    from xkernels.hybrid.wiring import wire_cell

    n = plan.grid.n_response
    X, Y = list(plan.X), list(plan.Y)
    arrays = {x: spikes.arrays(x) for x in spikes}
    n_ch = plan.shape[2]
    h = {x: np.zeros((net.population(x).size, len(Y), n_ch, n + 1)) for x in X}
    for iy, post in enumerate(Y):
        pop = net.population(post)
        with LinearisedCell(pop.cell, pop, DT, -65.0) as cell:
            origin = cell.geometry
        responses = segment_responses(net, post, plan, np.arange(origin.nseg))
        for j in range(pop.size):
            _, geometry, groups = wire_cell(
                net, post, j, seed=wiring, spikes=arrays, t_stop=T_STOP, ext=ext,
                place=lambda x, y, z, o=origin: placed(o, (x, y, z)))
            M = cell_matrix(plan.probes, geometry)
            for g in groups:
                if g.source not in responses:
                    continue
                G, a = responses[g.source]
                mapped = np.einsum("cs,ust->uct", M, G) * a[:, None, None]
                steps = np.rint(g.synapse_delay / DT).astype(int)
                for pre, s, d in zip(g.synapse_source, g.synapse_segment, steps):
                    if d <= n:
                        h[g.source][pre, iy, :, d:] += mapped[s, :, :n + 1 - d]
    return h


def formula(h: dict, used: np.ndarray, cov, X: list) -> tuple:
    """Heterogeneity, bias and signal variances of the realised kernels (the network's
    own mean: no sampling terms)."""
    from xkernels.errors.estimate import _summed_autocorrelation, lagged

    n_ch = used.shape[2]
    het = np.zeros(n_ch)
    means, biases = [], []
    for ix, x in enumerate(X):
        total = h[x].sum(axis=1)
        het += (_summed_autocorrelation(total - total.mean(0))
                * cov.auto_minus_cross[ix]).sum(-1)
        means.append(total.mean(0))
        biases.append(total.mean(0) - used[ix].sum(0))

    def quad(k):
        return sum((lagged(k[i], k[j]) * cov.population[i, j]).sum(-1)
                   for i in range(len(X)) for j in range(len(X)))

    return het, quad(biases), quad(means) + het


def superposed(h: dict, spikes, X: list, n_steps: int) -> np.ndarray:
    """Σ_i s_i ∗ h_i per (X, Y): shape (X, Y, channels, steps)."""
    from scipy import fft

    out = None
    for x in X:
        times, offsets = spikes.arrays(x)
        N = offsets.size - 1
        counts = np.zeros((N, n_steps))
        owner = np.repeat(np.arange(N), np.diff(offsets))
        b = np.rint(times / DT).astype(int)
        keep = b < n_steps
        np.add.at(counts, (owner[keep], b[keep]), 1.0)
        L = fft.next_fast_len(n_steps + h[x].shape[-1], real=True)
        C = fft.rfft(counts, n=L, axis=-1)
        K = fft.rfft(h[x], n=L, axis=-1)                       # (N, Y, ch, F)
        s = fft.irfft(np.einsum("nf,nycf->ycf", C, K), n=L, axis=-1)[..., :n_steps]
        out = s[None] if out is None else np.concatenate([out, s[None]])
    return out


def run_realised(args) -> None:
    import xkernels
    from xkernels.errors import nonlinearity as nl
    from xkernels.errors.covariance import spike_covariances
    from xkernels.signals import convolve, rates_from_spikes

    name = args.only or "current-corr"
    net, sopt, ext, plan, used = setup(name)
    X = list(plan.X)
    sizes = {p.name: p.size for p in net.populations}
    spikes = spikes_of(net, sopt, T_STOP / 1000.0, SEED)
    truth = xkernels.hybrid.open_ground_truth(Path(args.workdir) / f"{name}.zarr")
    labels = [str(v) for v in truth["probe_channel"].values]
    gt_y = truth.values                                            # (Y, ch, T)
    skip = int(round(SKIP_MS / DT))
    h = realised_kernels(net, plan, ext, spikes, SEED)
    lin = superposed(h, spikes, X, gt_y.shape[-1])                 # (X, Y, ch, T)
    gains = np.ones(lin.shape[:3])
    for iy in range(lin.shape[1]):                                 # every cell's gains
        t = gt_y[iy][:, skip:] - gt_y[iy][:, skip:].mean(-1, keepdims=True)
        ln = lin[:, iy, :, skip:] - lin[:, iy, :, skip:].mean(-1, keepdims=True)
        gains[:, iy] = nl.fit(t[None], ln[None])[0]
    if not net.conductance_based:
        gains[:] = 1.0
    h = {x: h[x] * gains[ix][None, :, :, None] for ix, x in enumerate(X)}
    lin = lin * gains[..., None]
    H = xkernels.compute_kernels(net, probes(), dt=DT, **cases()[name][2])
    rates = rates_from_spikes({x: spikes.population_times(x) for x in X}, t_start=0.0,
                              t_stop=T_STOP, dt=DT)
    pred = convolve(rates, H).compute().sel(probe_channel=labels).values

    def sd(a):
        return a[..., skip:].std(axis=-1)

    gt = gt_y.sum(axis=0)
    total = lin.sum(axis=(0, 1))
    hbar = [h[x].sum(1).mean(0) for x in X]
    het_t = sum(superposed({x: (h[x].sum(1) - hbar[ix])[:, None]}, spikes, [x],
                           gt.shape[-1])[0, 0] for ix, x in enumerate(X))
    bias_t = total - pred - het_t
    n_bins = int(round((T_STOP - SKIP_MS) / DT))
    cov = spike_covariances(spikes, sizes, X, t_start=SKIP_MS, dt=DT, n_bins=n_bins,
                            n=plan.grid.n_response)
    het, bias, sig = formula(h, used, cov, X)
    rows = {"std(truth - superposed) / std(truth)": sd(gt - total) / sd(gt),
            "measured relative error": sd(gt - pred) / sd(gt),
            "realised heterogeneity / std(truth)": sd(het_t) / sd(gt),
            "realised bias / std(truth)": sd(bias_t) / sd(gt),
            "formula, realised kernels: heterogeneity": np.sqrt(het / sig),
            "formula, realised kernels: bias": np.sqrt(bias / sig),
            "formula, realised kernels: relative error": np.sqrt((het + bias) / sig)}
    if net.conductance_based:
        rows["gain I→E (every cell)"] = gains[X.index("I"), 0]
        rows["gain E→I (every cell)"] = gains[X.index("E"), 1]
    pick = [0, 5, 8, 9, 10, 11, 13]
    print(f"### {name}: the realised network's own single-cell kernels\n")
    print("| | " + " | ".join(labels[k] for k in pick) + " |")
    print("| --- |" + " --- |" * len(pick))
    for label, v in rows.items():
        print(f"| {label} | " + " | ".join(f"{v[k]:.3f}" for k in pick) + " |")
    np.save(Path(args.workdir) / f"{name}_gains_every_cell.npy", gains)


def run_realisations(args) -> None:
    from xkernels.errors.covariance import spike_covariances

    name = args.only or "current-corr"
    net, sopt, ext, plan, used = setup(name)
    X = list(plan.X)
    sizes = {p.name: p.size for p in net.populations}
    spikes = spikes_of(net, sopt, T_STOP / 1000.0, SEED)
    n_bins = int(round((T_STOP - SKIP_MS) / DT))
    cov = spike_covariances(spikes, sizes, X, t_start=SKIP_MS, dt=DT, n_bins=n_bins,
                            n=plan.grid.n_response)
    gains = np.ones((len(X), len(plan.Y), plan.shape[2]))
    stored = Path(args.workdir) / f"{name}_gains_every_cell.npy"
    if net.conductance_based:          # the stored truth's every-cell gains (`realised`)
        gains = np.load(stored)
    rel = []
    for w in [SEED] + list(range(1, args.wirings + 1)):
        h = realised_kernels(net, plan, ext, spikes, w)
        h = {x: h[x] * gains[ix][None, :, :, None] for ix, x in enumerate(X)}
        het, bias, sig = formula(h, used, cov, X)
        rel.append(np.sqrt((het + bias) / sig))
        print(f"wiring {w}: relative error at lfp:9 {rel[-1][9]:.3f}", flush=True)
    rel = np.array(rel)
    print(f"\n### {name}: relative error over {len(rel)} wirings (same spikes)\n")
    print("| channel | wiring 1234 (the truth) | mean | std | min | max |")
    print("| --- | --- | --- | --- | --- | --- |")
    for k in (0, 5, 8, 9, 10, 11, 13):
        print(f"| {k} | {rel[0, k]:.3f} | {rel[:, k].mean():.3f} | {rel[:, k].std():.3f} | "
              f"{rel[:, k].min():.3f} | {rel[:, k].max():.3f} |")


def run_pool(args) -> None:
    import xkernels.errors.ensemble as ens_mod
    from xkernels.hybrid.wiring import draw_position

    name = args.only or "current-corr"
    net, _, _, plan, _ = setup(name)
    X, Y = list(plan.X), list(plan.Y)
    stratified = ens_mod.pool_positions
    out = {}
    for mode in ("independent", "stratified"):
        if mode == "independent":
            ens_mod.pool_positions = lambda rng, pop, n: np.array(
                [draw_position(rng, pop) for _ in range(n)])
        else:
            ens_mod.pool_positions = stratified
        means = []
        for s in range(args.seeds):
            e = ens_mod.single_cell_kernels(net, plan.probes, plan,
                                            n_cells=dict.fromkeys(X, 2), seed=s)
            means.append(np.stack([sum(e.pool_scale[(x, y)] * e.pool_kernels[(x, y)].mean(0)
                                       for y in Y) for x in X]))
        out[mode] = np.array(means)
    ens_mod.pool_positions = stratified
    print(f"### {name}: the pool's mean kernel, largest deviation between {args.seeds} "
          "seeds from their average, relative to its norm\n")
    print("| positions | X | lfp:8 | lfp:9 | lfp:10 | cdm:z |")
    print("| --- | --- | --- | --- | --- | --- |")
    for mode, m in out.items():
        avg = m.mean(axis=0)
        for ix, x in enumerate(X):
            dev = [np.linalg.norm(m[:, ix, c] - avg[ix, c], axis=-1).max()
                   / np.linalg.norm(avg[ix, c]) for c in (8, 9, 10, 13)]
            print(f"| {mode} | {x} | " + " | ".join(f"{d:.3f}" for d in dev) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=["realised", "realisations", "pool"])
    parser.add_argument("--only", default="")
    parser.add_argument("--workdir", default="/tmp/xk_error_estimate")
    parser.add_argument("--wirings", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args()
    {"realised": run_realised, "realisations": run_realisations, "pool": run_pool}[
        args.stage](args)


if __name__ == "__main__":
    main()
