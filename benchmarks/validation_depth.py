"""Validation of averaging="depth" against the hybrid ground truth, three networks.

Each network is a variant of the LFPykernels README network (E 8192, I 1024 passive
ball-and-sticks cells), driven by correlated Poisson spikes of every presynaptic neuron
(rates from the specification, shared rate fluctuation of relative STD 0.5 --
``--fluctuation`` -- and 20 ms correlation time). The ground truth
(:func:`xkernels.hybrid.simulate`) places ``--cells`` postsynaptic cells (80 % E; a
seeded subsample scaled by N / m) at random depths N(loc, scale) in the population disc,
each wired from the full presynaptic populations with its synapses placed at its own
depth; the predictions are the kernels of ``averaging="reference"`` and
``averaging="depth"`` convolved with the same spikes' population counts (one ground
truth per network and seed, shared through a resumable store in ``--workdir``). Scores
(signed R², STD ratio prediction / truth) over t >= ``--transient``.

1. ``current``: current-based synapses (Exp2SynI of amplitude ``w (E - Vrest)``), no
   extrinsic input, kernels ``g_eff=False``: a linear network with depth-dependent
   placement (E->: apical/basal around 50 µm, I->: around -100 µm);
2. ``conductance``: the README network itself (conductance-based Exp2Syn, extrinsic
   input as its mean conductance), kernels ``g_eff=True`` (membrane depends on depth);
3. ``flat``: as 1, but every connection placed uniformly by area on the apical
   dendrite (placement does not depend on depth): both modes must agree.

Probes: the LFP at ``--shanks`` laminar columns of 13 point contacts each (z = 1000 ..
-200 µm; one PointSourcePotential): the column axis and ``shanks - 1`` shanks evenly on
a ring of radius ``--ring`` (default 75 µm, half the population radius); and the z-only
current dipole moment (both physical observables of the ground truth).  The primary
LFP score is per depth the *shank-averaged* LFP, the mean of the ``shanks`` contacts at
that depth (a linear probe: its ground truth and prediction are the means of the
contacts'); a single point contact in a 500-cell ground truth is dominated by the few
sampled cells (each scaled by N / m ~ 18) that pass close to it, which measures the
ground truth's sampling noise rather than the kernels.  The axis contacts alone are
scored as well (the probe of earlier versions of this benchmark).

Criteria (issue 12): with ``averaging="depth"`` the STD ratio within 1 ± 0.12 on every
LFP channel (shank-averaged) and the CDM, and R² not below that of
``averaging="reference"``, in every realisation (``--seeds``).

Operating point (conductance-based network, always): besides the default
linearisation of the conductance-based synapses around ``Vrest`` (``operating_point=
"rest"``), the kernels of ``operating_point="mean-input"`` (each postsynaptic cell -- in
depth mode each depth node -- settled under the mean conductance of every synapse with
its reversal potential, the synapses linearised around that per-segment potential) are
scored: depth and reference mode at the specified rates, and depth mode with the
network's rates set to the realised mean rates of the spike trains (the rates a user who
ran the network would measure).  ``--operating-point`` chooses the pair (reference,
depth) of the conductance network's verdict and figure; R² of depth mode is compared
with reference mode at the same operating point (the line after the verdict compares it
with reference mode at "rest" too).

g_eff (conductance-based network, always): the kernels of ``g_eff=False`` (the membrane
at rest, synapses linearised at Vrest) in both modes, so that every combination the
options allow -- averaging {reference, depth} x g_eff {off, on at rest, on at the mean
input} -- is scored.  After the tables, per network, every prediction is ranked
("which options are most accurate"): channels x seeds within 1 ± 0.12, the STD ratio's
range, the relative error std(truth - prediction) / std(truth) and the lowest R²; the
prediction of the defaults (``compute_kernels`` without options, resolved by
``KernelOptions.resolve``) is marked.

``--diagnose`` (conductance-based network): measures the time-averaged membrane
potential of ground-truth cells (``hybrid_vm.py``) and adds predictions linearised
around it (``Vrest`` per population: the mean somatic potential; per segment: the mean
potential of each segment), and with the g_eff of the realised mean rates.

    python benchmarks/validation_depth.py [--cells 500] [--seconds 1] [--seeds 1234,99]
        [--shanks 7] [--ring 75] [--workdir DIR] [--diagnose] [--figure PNG]
        [--operating-point {rest,mean-input}]

Prints one markdown table per network and seed, summary tables (shank-averaged, axis;
for the conductance network every prediction side by side), the ranking, and a verdict
(for the conductance network one per prediction); ``--figure`` draws the STD ratio per
depth of LFPykernels' approximation (reference averaging at Vrest), of the defaults and,
where they differ from it, of depth averaging at Vrest.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

Z = np.linspace(1000.0, -200.0, 13)
TOLERANCE = 0.12      # STD ratio within 1 ± TOLERANCE
#: the --diagnose prediction drawn in the figure
DIAGNOSED = "depth, Vrest per segment, realised rates"
R2_SLACK = 0.002      # "R² not below": allowed rounding-level deficit
#: predictions of operating_point="mean-input" (conductance network)
MI_REFERENCE = "reference, mean-input"
MI_DEPTH = "depth, mean-input"
MI_REALISED = "depth, mean-input, realised rates"
#: predictions without g_eff (conductance network): the membrane at rest, synapses
#: linearised at Vrest -- the third choice of g_eff besides "rest" and "mean-input"
NO_GEFF_REFERENCE = "reference, g_eff off"
NO_GEFF_DEPTH = "depth, g_eff off"
#: (reference, depth) pair of the verdict and the figure, per --operating-point
PAIRS = {"rest": ("reference", "depth"), "mean-input": (MI_REFERENCE, MI_DEPTH)}


def baseline(variant: str) -> str:
    """The reference-mode prediction whose R² ``variant`` must not fall below: reference
    mode at the same operating point (and g_eff)."""
    if "g_eff off" in variant:
        return NO_GEFF_REFERENCE
    return MI_REFERENCE if "mean-input" in variant else "reference"


def options_of(variant: str, network: str) -> str:
    """The options (averaging, g_eff, operating_point) of a prediction of the table."""
    if "Vrest" not in variant:
        averaging = variant.split(",")[0]
        if network != "conductance" or "g_eff off" in variant:
            return f"{averaging}, g_eff off, rest"
        point = "mean-input" if "mean-input" in variant else "rest"
        rates = " (rates of the spike trains)" if "realised" in variant else ""
        return f"{averaging}, g_eff on, {point}{rates}"
    return "diagnosis (potential measured in the ground truth)"


def is_depth(variant: str) -> bool:
    return variant.startswith("depth")


def networks():
    import xkernels

    readme = xkernels.Network.example()
    d = readme.to_dict()
    for c in d["connections"]:
        s = c["synapse"]
        s["weight"] = s["weight"] * (s["e"] - (-65.0))
        s["syntype"] = "Exp2SynI"
    d["conductance_based"] = False
    for p in d["populations"]:
        p["n_ext"] = 0.0
    current = xkernels.Network.from_dict(d)
    flat = copy.deepcopy(d)
    for c in flat["connections"]:
        c["placement"] = {"sections": ["apic"], "weights": [1.0],
                          "densities": [{"name": "uniform",
                                         "params": {"loc": -1e5, "scale": 2e5}}]}
    return {"current": (current, {"ext": "none", "g_eff": False}),
            "conductance": (readme, {"ext": "mean", "g_eff": True}),
            "flat": (xkernels.Network.from_dict(flat), {"ext": "none", "g_eff": False})}


def probes(shanks: int = 7, ring: float = 75.0) -> dict:
    """LFP at ``shanks`` columns of the depths ``Z`` (the axis, then ``shanks - 1`` on a
    ring of radius ``ring``; contact ``j * Z.size + k`` is shank j, depth k) and the CDM."""
    import lfpykit

    import xkernels

    angles = 2 * np.pi * np.arange(shanks - 1) / max(1, shanks - 1)
    sx = np.concatenate([[0.0], ring * np.cos(angles)])
    sy = np.concatenate([[0.0], ring * np.sin(angles)])
    x, y = (np.repeat(v, Z.size) for v in (sx, sy))
    return {"lfp": lfpykit.PointSourcePotential(cell=None, x=x, y=y, z=np.tile(Z, shanks),
                                                sigma=0.3),
            "cdm": xkernels.CurrentDipoleMomentZ()}


def labels(shanks: int) -> list[str]:
    """Channel labels of :func:`probes`, in order."""
    return [f"lfp:{k}" for k in range(shanks * Z.size)] + ["cdm:z"]


def predict(network, spikes, probe_set, *, t_stop: float, dt: float, channels: list[str],
            **kernel_options) -> np.ndarray:
    """Kernel prediction (channels, time): as :func:`xkernels.hybrid.validate` does it
    (the same kernel defaults), for kernels the ground truth's options do not fix."""
    import xkernels
    from xkernels.signals import convolve, rates_from_spikes

    H = xkernels.compute_kernels(network, probe_set, dt=dt, **kernel_options)
    X = [str(x) for x in H.coords["X"].values]
    rates = rates_from_spikes({x: spikes.population_times(x) for x in X}, t_start=0.0,
                              t_stop=t_stop, dt=dt)
    return convolve(rates, H).compute().sel(probe_channel=channels).values


def score_sets(truth: np.ndarray, prediction: np.ndarray, keep: np.ndarray,
               shanks: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Signed R² and STD ratio per depth (then CDM) of the shank-averaged LFP ("shanks")
    and of the axis contacts ("axis"); rows of ``truth``/``prediction`` in the order of
    :func:`labels`."""
    from xkernels.hybrid.validation import scores

    n = Z.size
    gt, pr = truth[:, keep], prediction[:, keep]
    lfp_gt, lfp_pr = gt[:shanks * n].reshape(shanks, n, -1), pr[:shanks * n].reshape(
        shanks, n, -1)
    cdm = scores(gt[-1:], pr[-1:])
    out = {}
    for key, (a, b) in {"shanks": (lfp_gt.mean(axis=0), lfp_pr.mean(axis=0)),
                        "axis": (lfp_gt[0], lfp_pr[0])}.items():
        r2, ratio = scores(a, b)
        out[key] = (np.concatenate([r2, cdm[0]]), np.concatenate([ratio, cdm[1]]))
    return out


def jackknife(store: Path, network, channels: list[str], predictions: dict[str, np.ndarray],
              keep: np.ndarray, shanks: int) -> dict[str, dict[str, np.ndarray]]:
    """Sampling error of the STD ratio of each prediction from the ground truth's subsample.

    The ground truth is the sum of batches of randomly placed and wired cells, each
    population's sum scaled by N_Y / m_Y.  Deleting one batch (and rescaling its
    population by N_Y / (m_Y - m_b)) gives a delete-one-group jackknife, stratified by
    population: ``SE² = Σ_Y (n_Y - 1) / n_Y Σ_b (θ_b - θ̄_Y)²`` over the n_Y batches of Y.

    Returns
    -------
    dict
        Per key of ``predictions``: ``"shanks"``, ``"axis"``: SE per row (depths, then
        CDM).
    """
    import xarray as xr

    ds = xr.open_zarr(store, consolidated=False)
    partial = ds["partial"].sel(probe_channel=channels).values[:, :, keep]
    batch_y = [str(v) for v in ds["batch_Y"].values]
    cells = ds["batch_cells"].values
    sizes = {p.name: p.size for p in network.populations}
    pops = list(dict.fromkeys(batch_y))
    sums = {y: partial[[b for b, v in enumerate(batch_y) if v == y]].sum(axis=0) for y in pops}
    m = {y: cells[[b for b, v in enumerate(batch_y) if v == y]].sum() for y in pops}
    preds = {name: p[:, keep] for name, p in predictions.items()}
    thetas = {name: {key: {y: [] for y in pops} for key in ("shanks", "axis")}
              for name in preds}
    for b, y in enumerate(batch_y):
        truth = sum(sums[z] * sizes[z] / m[z] for z in pops if z != y)
        truth = truth + (sums[y] - partial[b]) * sizes[y] / (m[y] - cells[b])
        for name, pred in preds.items():
            for key, (_, ratio) in score_sets(truth, pred, np.ones(pred.shape[1], bool),
                                              shanks).items():
                thetas[name][key][y].append(ratio)
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, per_key in thetas.items():
        out[name] = {}
        for key, per_pop in per_key.items():
            var = 0.0
            for values in per_pop.values():
                v = np.array(values)
                n = len(v)
                if n > 1:
                    var = var + (n - 1) / n * ((v - v.mean(axis=0)) ** 2).sum(axis=0)
            out[name][key] = np.sqrt(var)
    return out


def row_labels() -> list[str]:
    return [f"{z:.0f} µm" for z in Z] + ["CDM z"]


def passes(ref, depth) -> np.ndarray:
    """Per row: STD ratio of depth within tolerance and R² not below reference."""
    (r2a, _), (r2b, sb) = ref, depth
    return (np.abs(sb - 1) <= TOLERANCE) & (r2b >= r2a - R2_SLACK)


def run_table(name: str, seed: int, run: dict, seconds: float, nodes: int) -> str:
    """One network and seed: every prediction, shank-averaged and axis; ✗ marks a
    depth-mode prediction outside the tolerance or with R² below its reference mode."""
    variants = list(run["scores"])
    lines = [f"### {name}, seed {seed} ({seconds:.0f} s; depth_nodes={nodes}; "
             f"{run['shanks']} shanks)", ""]
    for key, title in (("shanks", "shank-averaged LFP"), ("axis", "axis contacts")):
        lines += [f"{title}: STD ratio (R²)", "",
                  "| channel | " + " | ".join(variants) + " |",
                  "| --- |" + " --- |" * len(variants)]
        ok = {v: passes(run["scores"][baseline(v)][key], run["scores"][v][key])
              for v in variants if is_depth(v) and baseline(v) in run["scores"]}
        for i, label in enumerate(row_labels()):
            cells = []
            for v in variants:
                r2, ratio = run["scores"][v][key]
                mark = " ✗" if v in ok and not ok[v][i] else ""
                se = f" ± {run['se'][v][key][i]:.2f}" if v in run.get("se", {}) else ""
                cells.append(f"{ratio[i]:.2f}{se}{mark} ({r2[i]:.3f})")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    for extra in run.get("notes", []):
        lines.append(extra + "  ")
    return "\n".join(lines)


def summary(results: dict, key: str, pair: tuple[str, str] = ("reference", "depth")) -> str:
    """Doc table: per (network, seed) column that has both predictions of ``pair``, STD
    ratio reference → depth ± the ground truth's sampling error of the depth ratio
    (R² reference → depth)."""
    ref_v, depth_v = pair
    cols = [c for c in results if ref_v in results[c]["scores"]
            and depth_v in results[c]["scores"]]
    lines = ["| channel | " + " | ".join(f"{n}, seed {s}" for n, s in cols) + " |",
             "| --- |" + " --- |" * len(cols)]
    for i, label in enumerate(row_labels()):
        cells = []
        for c in cols:
            (r2a, sa), (r2b, sb) = (results[c]["scores"][v][key] for v in pair)
            ok = passes((r2a, sa), (r2b, sb))[i]
            se = (f" ±{results[c]['se'][depth_v][key][i]:.2f}"
                  if depth_v in results[c].get("se", {}) else "")
            cells.append(f"{sa[i]:.2f} → **{sb[i]:.2f}**{se}{'' if ok else ' ✗'} "
                         f"({r2a[i]:.3f} → {r2b[i]:.3f})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def variants_summary(results: dict, name: str, key: str) -> str:
    """Every prediction of one network side by side: per channel STD ratio and (R²),
    seeds separated by " / "; ✗ as in :func:`run_table`."""
    seeds = [s for n, s in results if n == name]
    runs = [results[(name, s)] for s in seeds]
    variants = [v for v in runs[0]["scores"] if all(v in r["scores"] for r in runs)]
    lines = [f"STD ratio (R²), seeds {' / '.join(str(s) for s in seeds)}", "",
             "| channel | " + " | ".join(variants) + " |",
             "| --- |" + " --- |" * len(variants)]
    ok = {v: [passes(r["scores"][baseline(v)][key], r["scores"][v][key]) for r in runs]
          for v in variants if is_depth(v) and baseline(v) in runs[0]["scores"]}
    for i, label in enumerate(row_labels()):
        cells = []
        for v in variants:
            ratios = " / ".join(
                f"{r['scores'][v][key][1][i]:.2f}"
                + (" ✗" if v in ok and not ok[v][j][i] else "") for j, r in enumerate(runs))
            r2s = " / ".join(f"{r['scores'][v][key][0][i]:.3f}" for r in runs)
            cells.append(f"{ratios} ({r2s})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(results: dict, name: str, pair: tuple[str, str], seeds: list[int]) -> str:
    """PASS/FAIL of ``pair`` (reference, depth) on every seed of ``name``, and the
    channels outside the tolerance by more than 2 sampling errors."""
    ref_v, depth_v = pair
    runs = {s: results[(n, s)] for n, s in results if n == name}
    ok = all(passes(r["scores"][ref_v]["shanks"], r["scores"][depth_v]["shanks"]).all()
             for r in runs.values())
    lines = [f"{name} [{depth_v} vs {ref_v}]: {'PASS' if ok else 'FAIL'} (shank-averaged LFP "
             f"and CDM: STD ratio within 1 ± {TOLERANCE} on every channel, R² not below "
             f"reference, seeds {seeds})"]
    if ref_v != "reference":
        ok_rest = all(passes(r["scores"]["reference"]["shanks"],
                             r["scores"][depth_v]["shanks"]).all() for r in runs.values())
        lines.append(f"  with R² compared with reference (rest) instead: "
                     f"{'PASS' if ok_rest else 'FAIL'}")
    failing = [f"seed {s} {row_labels()[i]} {r['scores'][depth_v]['shanks'][1][i]:.2f} "
               f"({r['scores'][ref_v]['shanks'][0][i]:.3f} → "
               f"{r['scores'][depth_v]['shanks'][0][i]:.3f})"
               for s, r in runs.items()
               for i in np.flatnonzero(~passes(r["scores"][ref_v]["shanks"],
                                               r["scores"][depth_v]["shanks"]))]
    lines.append("  failing channels: " + (", ".join(failing) or "none"))
    if all(depth_v in r.get("se", {}) for r in runs.values()):
        beyond = [(s, row_labels()[i], float(r["scores"][depth_v]["shanks"][1][i]))
                  for s, r in runs.items()
                  for i in np.flatnonzero(np.abs(r["scores"][depth_v]["shanks"][1] - 1)
                                          - TOLERANCE > 2 * r["se"][depth_v]["shanks"])]
        lines.append(f"  outside 1 ± {TOLERANCE} by more than 2 sampling errors: "
                     + (", ".join(f"seed {s} {lab} {r:.2f}" for s, lab, r in beyond)
                        or "none"))
    return "\n".join(lines)


def figure(results: dict, path: str) -> None:
    """STD ratio per depth (shank-averaged) and CDM, one panel per network: LFPykernels'
    approximation (reference averaging at Vrest), the defaults' prediction (± the
    ground truth's sampling error, and its axis contacts in grey) and, where the
    defaults are not depth mode at Vrest (the conductance network), depth mode at Vrest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    names = list(dict.fromkeys(n for n, _ in results))
    fig, axes = plt.subplots(1, len(names), figsize=(4.3 * len(names), 5.4), sharey=True)
    axes = np.atleast_1d(axes)
    styles = {"reference": ("C0", "o", "averaging=\"reference\", Vrest (LFPykernels 0.2.0)"),
              "depth": ("C1", "s", "averaging=\"depth\", Vrest"),
              "default": ("C3", "D", "the defaults (± sampling error)")}
    seeds_all = list(dict.fromkeys(s for _, s in results))
    dashes = {seed: ("-" if j == 0 else "--") for j, seed in enumerate(seeds_all)}
    shown = set()
    for ax, name in zip(axes, names):
        seeds = [s for n, s in results if n == name]
        default = results[(name, seeds[0])].get("default", "depth")
        for seed in seeds:
            run = results[(name, seed)]
            ls = dashes[seed]
            for role, (color, marker, _) in styles.items():
                variant = default if role == "default" else role
                if variant not in run["scores"] or (role == "depth" and variant == default):
                    continue
                shown.add(role)
                _, ratio = run["scores"][variant]["shanks"]
                ax.plot(ratio[:-1], Z, marker=marker, ls=ls, color=color, ms=4,
                        lw=1.6 if role == "default" else 1.0)
                ax.plot([ratio[-1]], [1150.0], marker=marker, ls="none", color=color)
                if role == "default" and variant in run.get("se", {}):
                    ax.errorbar(ratio, np.append(Z, 1150.0),
                                xerr=run["se"][variant]["shanks"],
                                fmt="none", color=color, lw=0.8, capsize=2)
            if default in run["scores"]:
                _, axis = run["scores"][default]["axis"]
                ax.plot(axis[:-1], Z, ls=ls, color="0.6", lw=0.8)
        ax.axvspan(1 - TOLERANCE, 1 + TOLERANCE, color="0.92", zorder=0)
        ax.axvline(1.0, color="0.5", lw=0.8)
        ax.set_xlim(0.4, 2.1)
        ax.set_title(f"{name}\ndefaults: {options_of(default, name)}", fontsize=9)
        ax.set_xlabel("STD ratio (prediction / ground truth)")
    axes[0].set_ylabel("contact depth (µm); top: CDM")
    axes[0].set_yticks(list(Z[::2]) + [1150.0],
                       [f"{z:.0f}" for z in Z[::2]] + ["CDM"])
    handles = [Line2D([], [], color=c, marker=m, label=label)
               for role, (c, m, label) in styles.items() if role in shown]
    handles.append(Line2D([], [], color="0.6", lw=0.8, label="the defaults, axis contacts only"))
    handles += [Line2D([], [], color="k", ls=ls, label=f"seed {seed}")
                for seed, ls in dashes.items()]
    shanks = results[next(iter(results))]["shanks"]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(f"LFP averaged over {shanks} shanks, and CDM (grey band: 1 ± {TOLERANCE})",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.11, 1, 1))
    fig.savefig(path, dpi=120)


def fluct_tag(args) -> str:
    """Store-name suffix of a non-default rate fluctuation."""
    return "" if args.fluctuation == 0.5 else f"-f{args.fluctuation:g}"


def realised_rates(spikes, network, t_stop: float) -> dict[str, float]:
    """Mean rate per neuron (spikes/s) of each population in these spike trains."""
    return {p.name: spikes.population_times(p.name).size / p.size / (t_stop / 1000.0)
            for p in network.populations}


def mean_input(network, spikes, probe_set, run: dict, *, t_stop: float,
               channels: list[str], nodes: int) -> dict[str, np.ndarray]:
    """Predictions of ``operating_point="mean-input"``: reference and depth mode at the
    specified rates, and depth mode with the network's rates set to the realised mean
    rates of ``spikes`` (its g_eff and its operating point alike); adds their scores to
    ``run`` and returns the depth-mode predictions (for the jackknife)."""
    import xkernels

    d_rates = network.to_dict()
    rates = realised_rates(spikes, network, t_stop)
    for p in d_rates["populations"]:
        p["rate"] = rates[p["name"]]
    realised = xkernels.Network.from_dict(d_rates)
    common = dict(t_stop=t_stop, dt=2.0 ** -4, channels=channels, g_eff=True,
                  operating_point="mean-input")
    depth = dict(averaging="depth", depth_nodes=nodes)
    ref = dict(averaging="reference", n_positions=20000)
    preds = scored(run, spikes, probe_set, 'operating_point="mean-input"',
                   ((MI_REFERENCE, network, ref), (MI_DEPTH, network, depth),
                    (MI_REALISED, realised, depth)), common)
    run["notes"] = run["notes"] + [
        "realised mean rates (" + MI_REALISED + "): " + ", ".join(
            f"{p.name} {rates[p.name]:.3f} (spec {p.rate}) /s" for p in network.populations)]
    return {k: v for k, v in preds.items() if is_depth(k)}


def without_g_eff(network, spikes, probe_set, run: dict, *, t_stop: float,
                  channels: list[str], nodes: int) -> dict[str, np.ndarray]:
    """Predictions of the conductance network with ``g_eff=False`` (the membrane at
    rest, synapses linearised at Vrest): reference and depth mode; adds their scores to
    ``run`` and returns the depth-mode one (for the jackknife)."""
    common = dict(t_stop=t_stop, dt=2.0 ** -4, channels=channels, g_eff=False,
                  operating_point="rest")
    preds = scored(run, spikes, probe_set, "g_eff=False",
                   ((NO_GEFF_REFERENCE, network, dict(averaging="reference",
                                                      n_positions=20000)),
                    (NO_GEFF_DEPTH, network, dict(averaging="depth", depth_nodes=nodes))),
                   common)
    return {NO_GEFF_DEPTH: preds[NO_GEFF_DEPTH]}


def scored(run: dict, spikes, probe_set, label: str, specs, common: dict
           ) -> dict[str, np.ndarray]:
    """Predict each ``(name, network, options)`` of ``specs`` (with ``common`` options),
    add its scores to ``run`` and the time each took (kernels and convolution) to its
    notes; returns the predictions by name."""
    preds, timings = {}, []
    for name, net, options in specs:
        start = time.perf_counter()
        preds[name] = predict(net, spikes, probe_set, **options, **common)
        timings.append(f"{name} {time.perf_counter() - start:.0f} s")
        run["scores"][name] = score_sets(run["truth"], preds[name], run["keep"],
                                         run["shanks"])
    run["notes"] = run.get("notes", []) + [
        f"{label}, kernels and convolution: " + ", ".join(timings)]
    return preds


def relative_error(r2: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """std(truth - prediction) / std(truth) from the signed R² and the STD ratio:
    ``sqrt(1 + ratio² - 2 ratio r)``, ``r = sign(r2) sqrt(|r2|)``."""
    r = np.sign(r2) * np.sqrt(np.abs(r2))
    return np.sqrt(np.maximum(1 + ratio ** 2 - 2 * ratio * r, 0.0))


def ranking(results: dict, name: str, key: str = "shanks") -> str:
    """Every prediction of network ``name`` over all its seeds: channels (depths and
    CDM, times seeds) with the STD ratio within 1 ± TOLERANCE, the range of the STD
    ratio, the relative error std(truth - prediction) / std(truth) (mean and worst) and
    the lowest R²; rows sorted by channels within tolerance, then mean relative error.
    The diagnosis rows use the ground truth's measured potential (not available to a
    user) and are listed last."""
    runs = [results[c] for c in results if c[0] == name]
    variants = [v for v in runs[0]["scores"] if all(v in r["scores"] for r in runs)]
    default = runs[0].get("default")
    rows = []
    for v in variants:
        ratios = np.concatenate([r["scores"][v][key][1] for r in runs])
        r2 = np.concatenate([r["scores"][v][key][0] for r in runs])
        err = relative_error(r2, ratios)
        within = int((np.abs(ratios - 1) <= TOLERANCE).sum())
        diag = options_of(v, name).startswith("diagnosis")
        rows.append((diag, -within, float(err.mean()), v, within, ratios.size, ratios,
                     err, r2))
    rows.sort(key=lambda row: row[:3])
    lines = ["| prediction | options (averaging, g_eff, operating point) | channels within "
             f"1 ± {TOLERANCE} | STD ratio | relative error: mean / worst | lowest R² |",
             "| --- | --- | --- | --- | --- | --- |"]
    for _, _, _, v, within, total, ratios, err, r2 in rows:
        mark = " (**defaults**)" if v == default else ""
        lines.append(f"| {v}{mark} | {options_of(v, name)} | {within} / {total} | "
                     f"{ratios.min():.2f}–{ratios.max():.2f} | {err.mean():.3f} / "
                     f"{err.max():.3f} | {r2.min():.3f} |")
    return "\n".join(lines)


def defaults_check(network, spikes, probe_set, run: dict, depth, *, t_stop: float,
                   channels: list[str], jack: dict, nodes: int) -> str:
    """The prediction of the defaults (compute_kernels without averaging, g_eff or
    operating_point: issue 25) and which explicit prediction of the table it is (its
    values must be that prediction's, bit for bit)."""
    import xkernels

    start = time.perf_counter()
    prediction = predict(network, spikes, probe_set, t_stop=t_stop, dt=2.0 ** -4,
                         channels=channels)
    options = xkernels.KernelOptions().resolve(network)
    same = MI_DEPTH if options.operating_point == "mean-input" else "depth"
    run["default"] = same
    if options.depth_nodes != nodes:
        return f"defaults (depth_nodes {options.depth_nodes}) not compared: --depth-nodes {nodes}"
    explicit = jack[same] if same in jack else \
        depth.prediction.sel(probe_channel=channels).values
    diff = float(np.abs(prediction - explicit).max() / np.abs(explicit).max())
    same_text = "bit for bit" if np.array_equal(prediction, explicit) else \
        f"NOT bit for bit: max |diff| / max |prediction| = {diff:.3g}"
    return (f"defaults (averaging={options.averaging!r}, g_eff={options.g_eff}, "
            f"operating_point={options.operating_point!r}): the prediction {same!r}, "
            f"{same_text} ({time.perf_counter() - start:.0f} s)")


def diagnose(network, spikes, probe_set, run: dict, *, args, seed: int, t_stop: float,
             n_cells: dict, workdir: Path, channels: list[str], nodes: int) -> None:
    """Predictions linearised around the ground truth's measured membrane potential."""
    from hybrid_vm import mean_potentials

    cache = workdir / f"vm-{args.cells}-{args.seconds:g}-s{seed}{fluct_tag(args)}.npz"
    if cache.exists():
        vm = dict(np.load(cache))
    else:
        vm = {}
        for post, m in (("E", args.measure), ("I", max(1, args.measure // 2))):
            res = mean_potentials(network, spikes, post, n_cells=n_cells, n_measure=m,
                                  seed=seed, t_stop=t_stop, transient=args.transient)
            vm.update({f"{post}_{k}": v for k, v in res.items()})
        np.savez(cache, **vm)
    soma = {p: float(vm[f"{p}_v"][:, 0].mean()) for p in ("E", "I")}
    per_segment = {p: vm[f"{p}_v"].mean(axis=0) for p in ("E", "I")}
    notes = []
    for p in ("E", "I"):
        v, zs = vm[f"{p}_v"], vm[f"{p}_z_soma"]
        slope = np.polyfit(zs, v[:, 0], 1)[0]
        notes.append(f"{p}: mean somatic potential {soma[p]:.2f} mV (SD over "
                     f"{len(zs)} cells {v[:, 0].std():.2f} mV; slope with soma depth "
                     f"{100 * slope:.2f} mV / 100 µm); per segment {v.mean(axis=0).min():.1f}"
                     f" .. {v.mean(axis=0).max():.1f} mV")
    rates = realised_rates(spikes, network, t_stop)
    notes.append("realised mean rates: " + ", ".join(
        f"{p.name} {rates[p.name]:.3f} (spec {p.rate}) /s" for p in network.populations))
    # per-segment Vrest needs the passive preset's e_pas (the ground truth's leak, -65)
    d = network.to_dict()
    for p in d["populations"]:
        p["cell"]["biophysics"]["e_pas"] = -65.0
    import xkernels

    fixed = xkernels.Network.from_dict(d)
    d_rates = network.to_dict()
    for p in d_rates["populations"]:
        p["rate"] = rates[p["name"]]
        p["cell"]["biophysics"]["e_pas"] = -65.0
    realised = xkernels.Network.from_dict(d_rates)
    common = dict(t_stop=t_stop, dt=2.0 ** -4, channels=channels, g_eff=True,
                  operating_point="rest")  # linearised at the Vrest measured
    depth = dict(averaging="depth", depth_nodes=nodes)
    ref = dict(averaging="reference", n_positions=20000)
    preds = {
        "reference, Vrest soma": predict(network, spikes, probe_set, Vrest=soma, **ref,
                                         **common),
        "depth, Vrest soma": predict(network, spikes, probe_set, Vrest=soma, **depth,
                                     **common),
        "depth, Vrest per segment": predict(fixed, spikes, probe_set, Vrest=per_segment,
                                            **depth, **common),
        DIAGNOSED: predict(
            realised, spikes, probe_set, Vrest=per_segment, **depth, **common),
    }
    for name, pr in preds.items():
        run["scores"][name] = score_sets(run["truth"], pr, run["keep"], run["shanks"])
    run["notes"] = run.get("notes", []) + notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--transient", type=float, default=100.0)
    parser.add_argument("--seeds", default="1234",
                        help="comma-separated seeds: one realisation each")
    parser.add_argument("--seed", type=int, default=None, help="one seed (as --seeds)")
    parser.add_argument("--depth-nodes", type=int, default=None)
    parser.add_argument("--networks", default="current,conductance,flat")
    parser.add_argument("--shanks", type=int, default=7,
                        help="laminar columns: the axis and shanks - 1 on a ring")
    parser.add_argument("--ring", type=float, default=75.0, help="ring radius (µm)")
    parser.add_argument("--diagnose", action="store_true",
                        help="conductance network: predictions around the measured potential")
    parser.add_argument("--measure", type=int, default=80,
                        help="E cells whose potential --diagnose measures (I: half)")
    parser.add_argument("--fluctuation", type=float, default=0.5,
                        help="relative STD of the shared rate fluctuation")
    parser.add_argument("--operating-point", choices=sorted(PAIRS), default="rest",
                        help="conductance network: operating point of the (reference, "
                             "depth) pair of the verdict and the figure")
    parser.add_argument("--figure", default=None)
    parser.add_argument("--workdir", default=None,
                        help="directory of the ground-truth stores (kept; default: temporary)")
    args = parser.parse_args()
    if args.shanks < 1:
        parser.error("--shanks must be >= 1")

    from dask.distributed import Client, LocalCluster

    from xkernels import KernelOptions
    from xkernels.hybrid import correlated_poisson, validate

    nodes = args.depth_nodes or KernelOptions().depth_nodes
    seeds = [args.seed] if args.seed is not None else [int(s) for s in args.seeds.split(",")]
    t_stop = 1000.0 * args.seconds
    nets = networks()
    n_e = int(round(0.8 * args.cells))
    n_cells = {"E": n_e, "I": args.cells - n_e}
    channels = labels(args.shanks)
    results = {}
    with tempfile.TemporaryDirectory() as tmp, \
            LocalCluster(threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            Client(cl) as client:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for name in args.networks.split(","):
            for seed in seeds:
                net, options = nets[name]
                sizes = {p.name: p.size for p in net.populations}
                rates = {p.name: p.rate for p in net.populations}
                spikes = correlated_poisson(sizes, rates, t_stop=t_stop, seed=seed,
                                            fluctuation=args.fluctuation, tau_c=20.0)
                store = workdir / (f"{name}-{args.cells}-{args.seconds:g}-s{seed}-"
                                   f"k{args.shanks}-r{args.ring:g}{fluct_tag(args)}.zarr")
                common = dict(t_stop=t_stop, transient=args.transient, seed=seed,
                              client=client, progress=False, store=store, n_cells=n_cells,
                              **options)
                start = time.perf_counter()
                probe_set = probes(args.shanks, args.ring)
                ref = validate(net, spikes, probe_set, averaging="reference",
                               n_positions=20000, operating_point="rest", **common)
                depth = validate(net, spikes, probe_set, averaging="depth",
                                 depth_nodes=nodes, operating_point="rest", **common)
                keep = ref.time.values >= args.transient - 1e-9
                truth = ref.ground_truth.sel(probe_channel=channels).values
                pair = PAIRS[args.operating_point if name == "conductance" else "rest"]
                run = {"truth": truth, "keep": keep, "shanks": args.shanks, "pair": pair,
                       "scores": {
                           v: score_sets(truth,
                                         ds.prediction.sel(probe_channel=channels).values,
                                         keep, args.shanks)
                           for v, ds in (("reference", ref), ("depth", depth))}}
                diff = {}
                for probe in ("lfp", "cdm"):
                    a, b = (ds.prediction.where(ds.probe == probe, drop=True).values
                            for ds in (depth, ref))
                    diff[probe] = float(np.abs(a - b).max() / np.abs(b).max())
                run["notes"] = [f"max abs(prediction depth - reference) / max abs(reference): "
                                f"LFP contacts {diff['lfp']:.3g}, CDM {diff['cdm']:.3g}"]
                jack = {"depth": depth.prediction.sel(probe_channel=channels).values}
                if name == "conductance":
                    jack.update(mean_input(net, spikes, probe_set, run, t_stop=t_stop,
                                           channels=channels, nodes=nodes))
                    jack.update(without_g_eff(net, spikes, probe_set, run, t_stop=t_stop,
                                              channels=channels, nodes=nodes))
                run["notes"].append(defaults_check(net, spikes, probe_set, run, depth,
                                                   t_stop=t_stop, channels=channels,
                                                   jack=jack, nodes=nodes))
                run["se"] = jackknife(store, net, channels, jack, keep, args.shanks)
                if args.diagnose and name == "conductance":
                    diagnose(net, spikes, probe_set, run, args=args, seed=seed,
                             t_stop=t_stop, n_cells=n_cells, workdir=workdir,
                             channels=channels, nodes=nodes)
                seconds = time.perf_counter() - start
                results[(name, seed)] = run
                print(run_table(name, seed, run, seconds, nodes), flush=True)
                print(flush=True)
    titles = {"shanks": f"shank-averaged LFP ({args.shanks} shanks, ring {args.ring:g} µm)",
              "axis": "axis contacts"}
    pairs = [(("reference", "depth"), "")]
    if any(MI_DEPTH in run["scores"] for run in results.values()):
        pairs += [(PAIRS["mean-input"], ', operating_point="mean-input"'),
                  ((MI_REFERENCE, MI_REALISED),
                   ', operating_point="mean-input", depth mode at the realised rates')]
    for key, title in titles.items():
        for pair, label in pairs:
            print(f"## Summary, {title}: STD ratio reference → depth (R² reference → "
                  f"depth){label}")
            print()
            print(summary(results, key, pair))
            print()
    names = list(dict.fromkeys(n for n, _ in results))
    for name in names:
        if len(results[next(c for c in results if c[0] == name)]["scores"]) > 2:
            for key, title in titles.items():
                print(f"## {name}: every prediction, {title}")
                print()
                print(variants_summary(results, name, key))
                print()
    for name in names:
        for key, title in titles.items():
            print(f"## {name}: which options are most accurate, {title}")
            print()
            print(ranking(results, name, key))
            print()
    for name in names:
        runs = [results[c] for c in results if c[0] == name]
        pair = runs[0]["pair"]
        print(verdict(results, name, pair, seeds))
        others = [v for v in runs[0]["scores"] if is_depth(v) and v != pair[1]]
        if others:
            print(f"  (verdict above: --operating-point {args.operating_point}; every "
                  f"other depth-mode prediction:)")
        for v in others:
            print(verdict(results, name, (baseline(v), v), seeds))
    if args.figure:
        figure(results, args.figure)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
