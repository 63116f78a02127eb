"""Draw the documentation's figures into ``docs/_static``: ``python docs/make_figures.py``.

* ``kernel_grid.png`` -- the four kernels of the README network (LFP across depth, CDM);
* ``signals_depth.png`` -- LFP across depth and CDM predicted from a NEST LIF network;
* ``validation_profiles.png`` and ``validation_table.md`` -- xkernels' kernels against
  the reference implementation LFPykernels 0.2.0 (``pip install lfpykernels==0.2.0``);
* ``hybrid_profiles.png``, ``hybrid_traces.png`` and ``hybrid_table.md`` -- kernel
  predictions against the hybrid ground truth (every cell simulated), README network;
* ``architecture.png`` -- the package's layers and their one-way imports.

Each figure can be drawn alone: ``python docs/make_figures.py architecture``.
Takes about a minute on 2 cores (NEST is needed for ``signals``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
STATIC = HERE / "_static"

import xkernels  # noqa: E402

LFP_DEPTHS = np.linspace(1000.0, -200.0, 13)  # µm


def readme_probes() -> dict:
    """The README's probes: LFP of a Gaussian cylinder at 13 depths, z-only CDM."""
    return {"lfp": xkernels.GaussCylinderPotential(z=LFP_DEPTHS, sigma=0.3, R=150.0,
                                                   sigma_z=75.0),
            "cdm": xkernels.CurrentDipoleMomentZ()}


def readme_kernels(**options):
    """Kernels of the README network (dt = 1/16 ms, tau = 50 ms; the defaults: depth
    averaging, g_eff and the mean-input operating point), ``options`` replacing them."""
    return xkernels.compute_kernels(xkernels.Network.example(), readme_probes(),
                                    dt=2 ** -4, tau=50.0, Vrest=-65.0, **options)


def kernel_grid() -> None:
    """The kernel grid of the README network."""
    fig = readme_kernels().xk.plot(tau_lim=(-2.0, 30.0))
    fig.savefig(STATIC / "kernel_grid.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def signals() -> None:
    """LFP and CDM of a 1/8-size LIF network (NEST), scaled to the full network."""
    from xkernels.app.lif import population_rates, simulate_lif

    H = readme_kernels()
    spikes = simulate_lif(t_stop=600.0, dt=2 ** -4, seed=12345, threads=1)
    rates = population_rates(spikes, t_start=0.0, t_stop=600.0, dt=2 ** -4)
    sig = rates.xk.convolve(H).compute()
    fig = sig.xk.plot(rates=rates, time_lim=(300.0, 600.0))
    fig.savefig(STATIC / "signals_depth.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def _reference_kernels(Y: str, probes_ref: list) -> dict:
    """LFPykernels 0.2.0's kernels of the README network onto Y, per X."""
    import lfpykernels
    import scipy.stats as st

    from xkernels.compat import KernelApprox  # noqa: F401  (same arguments)

    net = xkernels.Network.example()
    pops = {p.name: p for p in net.populations}
    cells = Path(xkernels.__file__).parent / "spec" / "cells_data"

    def set_passive(cell, Vrest):
        for sec in cell.template.all:
            sec.insert("pas")
            sec.g_pas = 0.0003
            sec.e_pas = Vrest

    X = [c.pre for c in net.inputs(Y)]
    conns = [net.connection(x, Y) for x in X]
    kw = dict(
        X=X, Y=Y, N_X=np.array([pops[x].size for x in X]), N_Y=pops[Y].size,
        C_YX=np.array([c.probability for c in conns]),
        cellParameters={"templatefile": str(cells / "BallAndSticksTemplate.hoc"),
                        "templatename": "BallAndSticksTemplate",
                        "custom_fun": [set_passive], "custom_fun_args": [{"Vrest": -65.0}],
                        "templateargs": None, "delete_sections": False,
                        "morphology": str(cells / f"BallAndSticks_{Y}.hoc")},
        populationParameters={"radius": pops[Y].radius, "loc": pops[Y].loc,
                              "scale": pops[Y].scale},
        multapseFunction=st.truncnorm,
        multapseParameters=[dict(c.multapses.params) for c in conns],
        delayFunction=st.truncnorm, delayParameters=[dict(c.delay.params) for c in conns],
        synapseParameters=[{"weight": c.synapse.weight, "syntype": "Exp2Syn",
                            "tau1": c.synapse.tau1, "tau2": c.synapse.tau2,
                            "e": c.synapse.e} for c in conns],
        synapsePositionArguments=[
            {"section": list(c.placement.sections),
             "fun": [getattr(st, d.name) for d in c.placement.densities],
             "funargs": [dict(d.params) for d in c.placement.densities],
             "funweights": list(c.placement.weights)} for c in conns],
        extSynapseParameters={"syntype": "Exp2Syn", "weight": pops[Y].ext_synapse.weight,
                              "tau1": pops[Y].ext_synapse.tau1,
                              "tau2": pops[Y].ext_synapse.tau2, "e": pops[Y].ext_synapse.e},
        nu_ext=pops[Y].nu_ext, n_ext=pops[Y].n_ext, nu_X={p.name: p.rate for p in pops.values()},
    )
    approx = lfpykernels.KernelApprox(**kw)
    return {x: approx.get_kernel(probes_ref, Vrest=-65.0, dt=2 ** -4, X=x, t_X=200.0,
                                 tau=50.0, g_eff=True) for x in X}


def validation() -> None:
    """xkernels against LFPykernels 0.2.0 on the README network: profiles and a table."""
    import lfpykernels

    # LFPykernels' approximation in the native API: the reference's numbers
    H = readme_kernels(g_eff=True, averaging="reference", operating_point="rest")
    probes_ref = [lfpykernels.GaussCylinderPotential(cell=None, z=LFP_DEPTHS, sigma=0.3,
                                                     R=150.0, sigma_z=75.0),
                  lfpykernels.KernelApproxCurrentDipoleMoment(cell=None)]
    rows = []
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.6), sharey=True)
    i = 0
    for Y in ("E", "I"):
        ref = _reference_kernels(Y, probes_ref)
        for X, kern in ref.items():
            ours = H.sel(X=X, Y=Y)
            lfp = ours.xk.probe("lfp").values
            cdm = ours.xk.probe("cdm").values                  # the z component
            ref_lfp = kern["GaussCylinderPotential"]
            ref_cdm = kern["KernelApproxCurrentDipoleMoment"][2:]  # rows x, y, z
            d_lfp = np.abs(lfp - ref_lfp).max() / np.abs(ref_lfp).max()
            d_cdm = np.abs(cdm - ref_cdm).max() / np.abs(ref_cdm).max()
            rows.append((X, Y, d_lfp, d_cdm, np.abs(ref_lfp).max() * 1e3))
            ax = axes[i]
            ax.plot(ref_lfp.min(axis=1) * 1e3, LFP_DEPTHS, "k-", lw=3, alpha=0.35,
                    label="LFPykernels 0.2.0 (min, max over τ)")
            ax.plot(ref_lfp.max(axis=1) * 1e3, LFP_DEPTHS, "k-", lw=3, alpha=0.35)
            ax.plot(lfp.min(axis=1) * 1e3, LFP_DEPTHS, "C3.--", label="xkernels (min)")
            ax.plot(lfp.max(axis=1) * 1e3, LFP_DEPTHS, "C0.--", label="xkernels (max)")
            ax.set_title(f"{X} → {Y}\nmax rel. diff {d_lfp:.1e}", fontsize=9)
            ax.set_xlabel("LFP kernel extremes (µV)")
            i += 1
    axes[0].set_ylabel("depth z (µm)")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(STATIC / "validation_profiles.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    lines = ["| X → Y | LFP: max\\|Δ\\| / max\\|H_ref\\| | CDM: max\\|Δ\\| / max\\|H_ref\\| "
             "| LFP kernel peak (µV) |", "| --- | --- | --- | --- |"]
    lines += [f"| {X} → {Y} | {a:.1e} | {b:.1e} | {p:.3g} |" for X, Y, a, b, p in rows]
    (STATIC / "validation_table.md").write_text("\n".join(lines) + "\n")


def hybrid() -> None:
    """Kernel predictions against the hybrid ground truth, README network (200 cells, 1 s)."""
    import json

    import lfpykit

    from xkernels.hybrid import correlated_poisson, plot_validation, validate

    network = xkernels.Network.example()
    # point contacts on the column axis: a GaussCylinderPotential is itself a population
    # average, which applied to every simulated cell would smooth the ground truth over
    # the depth spread a second time (xkernels.hybrid.simulate)
    probes = {"lfp": lfpykit.PointSourcePotential(cell=None, x=np.zeros(LFP_DEPTHS.size),
                                                  y=np.zeros(LFP_DEPTHS.size),
                                                  z=LFP_DEPTHS, sigma=0.3),
              "cdm": xkernels.CurrentDipoleMomentZ()}
    spikes = correlated_poisson({p.name: p.size for p in network.populations},
                                {p.name: p.rate for p in network.populations},
                                t_stop=1000.0, seed=1, fluctuation=0.5, tau_c=20.0)
    ds = validate(network, spikes, probes, t_stop=1000.0, transient=100.0,
                  n_cells={"E": 160, "I": 40}, progress=False)
    fig = plot_validation(ds, time_lim=(100.0, 600.0))
    fig.savefig(STATIC / "hybrid_traces.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    lfp = ds.where(ds.probe == "lfp", drop=True)
    z = lfp["z"].values
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.8), sharey=True)
    axes[0].plot(lfp["r2"].values, z, "o-", color="C0")
    axes[0].set_xlabel("signed R²")
    axes[0].axvline(1.0, color="0.7", lw=0.8)
    axes[1].plot(lfp["std_ratio"].values, z, "o-", color="C3")
    axes[1].axvline(1.0, color="0.7", lw=0.8)
    axes[1].set_xlabel("STD ratio (prediction / ground truth)")
    axes[0].set_ylabel("LFP contact depth z (µm)")
    fig.suptitle("README network: kernel prediction vs. hybrid ground truth "
                 "(200 cells, 1 s)", fontsize=10)
    fig.tight_layout()
    fig.savefig(STATIC / "hybrid_profiles.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    cdm = ds.sel(probe_channel="cdm:z")
    rows = ["| channel | signed R² | STD ratio |", "| --- | --- | --- |"]
    rows += [f"| LFP z = {zz:.0f} µm | {r:.3f} | {q:.3f} |"
             for zz, r, q in zip(z, lfp["r2"].values, lfp["std_ratio"].values)]
    rows.append(f"| CDM z | {float(cdm['r2']):.3f} | {float(cdm['std_ratio']):.3f} |")
    (STATIC / "hybrid_table.md").write_text("\n".join(rows) + "\n")
    print(json.dumps({"r2_min": float(lfp["r2"].min()), "r2_max": float(lfp["r2"].max())}))


#: what each unit holds; the layers themselves are read from pyproject.toml
UNIT_TEXT = {
    "_version": "version", "contract": "the data contract in code",
    "validation": "one policy for bad input", "figures": "pyplot figures shown once",
    "spec": "frozen Network models, presets", "probes": "forward models, averaging",
    "engine": "cells, kernels (only NEURON code)",
    "store": "Zarr kernel & sweep stores, cache", "signals": "Spikes, binning, convolution",
    "sweeps": "grids, dask runner, superposition", "hybrid": "ground truth, validate()",
    "compat": "the LFPykernels 0.2.0 drop-in", "plot": "kernel and signal figures",
    "accessor": "the .xk accessor", "app": "CLI, demo, NEST models", "__main__": "python -m",
}


def architecture() -> None:
    """The layers of the package (``[tool.importlinter]`` in pyproject.toml), bottom up."""
    import tomllib

    config = tomllib.loads((HERE.parent / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c["layers"] for c in config["contracts"] if c["type"] == "layers")
    rows = [[u.strip() for u in layer.split("|")] for layer in reversed(layers)]
    fig, ax = plt.subplots(figsize=(11.5, 0.75 * len(rows) + 0.6))
    for row, units in enumerate(rows):
        y = row * 1.0
        for k, unit in enumerate(units):
            x = (k - (len(units) - 1) / 2) * 3.7
            colour = {"app": "#f6e3db", "engine": "#e4f0dc"}.get(unit, "#dbe9f6")
            ax.add_patch(plt.Rectangle((x - 1.75, y - 0.33), 3.5, 0.66, fc=colour, ec="#335",
                                       lw=1.2, zorder=2))
            ax.text(x, y + 0.1, unit, ha="center", va="center", fontsize=10,
                    fontweight="bold", zorder=3)
            ax.text(x, y - 0.16, UNIT_TEXT.get(unit, ""), ha="center", va="center",
                    fontsize=7, zorder=3)
        if row:
            ax.annotate("", xy=(-7.2, y - 0.33), xytext=(-7.2, y - 0.67),
                        arrowprops=dict(arrowstyle="-|>", color="#335", lw=1.2))
    ax.text(-7.4, (len(rows) - 1) / 2, "data flows up", rotation=90,
            ha="right", va="center", fontsize=8, style="italic")
    ax.text(0, -0.85, "Each layer imports only from the layers below it; units side by side "
            "are independent.\nThe table is pyproject.toml's [tool.importlinter], checked by "
            "lint-imports (tests/test_layers.py).", ha="center", va="center", fontsize=8,
            style="italic")
    ax.set_xlim(-8.2, 8.2)
    ax.set_ylim(-1.2, len(rows) - 0.5)
    ax.axis("off")
    fig.savefig(STATIC / "architecture.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


FIGURES = {"kernel_grid": kernel_grid, "signals": signals, "validation": validation,
           "hybrid": hybrid, "architecture": architecture}

if __name__ == "__main__":
    STATIC.mkdir(exist_ok=True)
    for name in sys.argv[1:] or list(FIGURES):
        FIGURES[name]()
        print(f"drew {name}")
