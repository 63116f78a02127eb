"""Write the example notebooks (without outputs): ``python notebooks/generate.py``.

Every notebook reads its sizes from environment variables (so the test suite can run
it short) and, when ``XKERNELS_NB_RESULTS`` is set, writes its key results to that JSON
file in its last cell.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent

RESULTS = '''import json, os
if os.environ.get("XKERNELS_NB_RESULTS"):
    with open(os.environ["XKERNELS_NB_RESULTS"], "w") as f:
        json.dump(results, f, indent=1)
results'''

NOTEBOOKS = {
    "01_readme_example.ipynb": [
        ("md", """# The LFPykernels README example with xkernels

The README of LFPykernels 0.2.0 predicts the kernel from inhibitory spikes (X = I) to
the LFP of the excitatory population (Y = E). xkernels computes all four X → Y kernels
of that network at once, as one labelled `DataArray` with dims (X, Y, probe_channel,
tau). Units: LFP in mV and CDM in nA µm, per presynaptic spike; tau in ms.
Figures appear inline (and with `plt.show()` in scripts)."""),
        ("code", """import numpy as np
import xarray as xr
import xkernels as xk
from xkernels.probes import CurrentDipoleMomentZ, GaussCylinderPotential

network = xk.Network.example()   # E: 8192, I: 1024 ball-and-sticks cells
network"""),
        ("code", """probes = {
    "lfp": GaussCylinderPotential(z=np.linspace(1000., -200., 13), sigma=0.3,
                                  R=150., sigma_z=75.),
    "cdm": CurrentDipoleMomentZ(),
}
H = xk.compute_kernels(network, probes, dt=2**-4, tau=50., Vrest=-65., g_eff=True)
H"""),
        ("md", "The README's kernel is one panel of this array:"),
        ("code", """H_IE = H.sel(X="I", Y="E").xk.probe("lfp")
H_IE.sel(tau=slice(0, 20)).isel(tau=slice(None, None, 40)).to_pandas().round(8)"""),
        ("code", """H.xk.plot(tau_lim=(-5, 40))"""),
        ("md", """One amplitude scale per probe makes panels comparable, and the weak
E → E kernels look flat; `scale="panel"` scales every panel to its own maximum (each
with its own scale bar). Any selection plots: one population, a sum, one channel."""),
        ("code", """H.xk.plot(kind="image", probes=["lfp"], tau_lim=(-5, 40), scale="panel")"""),
        ("code", """H.sum("X").xk.probe("cdm").xk.plot(tau_lim=(-5, 40))   # all X together: ΣX"""),
        ("md", """Convolve with Poisson population spike counts at the rates assumed by the
README network (E 2.5 spikes/s, I 5 spikes/s per cell), 1 s at dt = 1/16 ms. The first
50 ms of a convolution lack the spikes before the first bin (the kernels last 50 ms):
`mode="valid"` keeps only the complete samples (`mode="same"`, the default, keeps every
sample, as the reference workflow's `np.convolve(..., 'same')`)."""),
        ("code", """rng = np.random.default_rng(1)
dt = 2**-4
time = np.arange(int(1000 / dt)) * dt
expected = {"E": 2.5 * 8192 * dt / 1000, "I": 5.0 * 1024 * dt / 1000}  # spikes per bin
rates = xr.DataArray([rng.poisson(expected[x], time.size) for x in ("E", "I")],
                     dims=("X", "time"), coords={"X": ["E", "I"], "time": time})
signals = rates.xk.convolve(H, mode="valid").compute()
print(signals.attrs["complete_time"], "ms")
signals.xk.plot(rates=rates, time_lim=(100, 600))"""),
        ("code", """cdm_z = H.sel(probe_channel="cdm:z")
results = {
    "shape": dict(H.sizes),
    "probes": sorted(set(H.coords["probe"].values.tolist())),
    "finite": bool(np.isfinite(H.values).all()),
    "cdm_z_peak_I_E": float(cdm_z.sel(X="I", Y="E").values[np.abs(cdm_z.sel(X="I", Y="E").values).argmax()]),
    "cdm_z_peak_E_E": float(cdm_z.sel(X="E", Y="E").values[np.abs(cdm_z.sel(X="E", Y="E").values).argmax()]),
    "signals_shape": dict(signals.sizes),
    "signals_finite": bool(np.isfinite(signals.values).all()),
}
""" + RESULTS),
    ],
    "02_lif_network_nest.ipynb": [
        ("md", """# A LIF network in NEST → LFP, CDM and EEG

In the spirit of LFPykernels' `LIF_net_forward_model_predictions` example: a Brunel-like
E/I network of leaky integrate-and-fire neurons is simulated in NEST
(`xkernels.lif`, 1024 + 128 neurons, 1/8 of the README network), its population spike
counts are scaled to the README network's 8192 + 1024 cells (the kernels are per
spike of the whole population) and convolved with the kernels of the LFP at 13
depths, the current dipole moment and the EEG at three scalp electrodes
(four-sphere head model)."""),
        ("code", """import os
import numpy as np
import xarray as xr
import lfpykit
import xkernels as xk
from xkernels.app import lif
from xkernels.app.demo import demo_probes

T_STOP = float(os.environ.get("XKERNELS_NB_T_STOP", 3000))   # ms, incl. transient
TRANSIENT = 200.0"""),
        ("code", """spikes = lif.simulate_lif(T_STOP, dt=2**-4, threads=2, seed=12345)
lif.summary(spikes, TRANSIENT)   # spikes/s per neuron"""),
        ("code", """rates = lif.population_rates(spikes, t_start=TRANSIENT)  # spikes per bin, full size
rates"""),
        ("code", """probes = demo_probes()   # lfp (13 depths), cdm, eeg (3 electrodes)
H = xk.compute_kernels(xk.Network.example(), probes)
H.xk.plot(tau_lim=(-5, 40), scale="panel")"""),
        ("code", """signals = rates.xk.convolve(H, mode="valid").compute()   # complete samples only
t0 = float(signals.time[0])
signals.xk.plot(rates=rates, time_lim=(t0, t0 + 500))"""),
        ("md", """The EEG probe applies lfpykit's four-sphere model to the dipole moment.
Check it by hand: the EEG signal must equal lfpykit's `FourSphereVolumeConductor`
matrix applied to the CDM signal."""),
        ("code", """eeg = probes["eeg"]
four_sphere = lfpykit.eegmegcalc.FourSphereVolumeConductor(
    eeg.r_electrodes, radii=list(eeg.radii), sigmas=list(eeg.sigmas))
M = four_sphere.get_transformation_matrix(np.asarray(eeg.dipole_location, float))
eeg_by_hand = M[:, 2:] @ signals.xk.probe("cdm").values   # z-dipole (cdm:z): (3, time), mV
eeg_xk = signals.xk.probe("eeg").values
max_rel_err = float(np.abs(eeg_by_hand - eeg_xk).max() / np.abs(eeg_xk).max())
max_rel_err"""),
        ("code", """lfp = signals.xk.probe("lfp")
cdm_z = signals.sel(probe_channel="cdm:z")
results = {
    "rates_shape": dict(rates.sizes),
    "mean_rates": {k: float(v) for k, v in spikes.mean_rates(TRANSIENT).items()},
    "signals_shape": dict(signals.sizes),
    "finite": bool(np.isfinite(signals.values).all()),
    "eeg_max_rel_err": max_rel_err,
    "corr_eeg0_cdmz": float(np.corrcoef(signals.sel(probe_channel="eeg:0"), cdm_z)[0, 1]),
    "lfp_std_mV": [float(v) for v in lfp.std("time").values],
}
""" + RESULTS),
    ],
    "03_parameter_sweep.ipynb": [
        ("md", """# A parameter sweep, analysed with plain xarray

How does the LFP kernel amplitude depend on the E→E and I→E synaptic weights?
`xkernels.sweep` computes the kernels on the grid and stores them in one Zarr store
with one dim per parameter; the analysis below uses nothing but `xr.open_zarr`."""),
        ("code", """import os
import numpy as np
import xarray as xr
import xkernels as xk
from xkernels.probes import CurrentDipoleMomentZ, GaussCylinderPotential
from xkernels.sweeps.driver import sweep

N = int(os.environ.get("XKERNELS_NB_GRID", 3))   # grid points per weight
grid = {
    "connections[E->E].synapse.weight": list(np.geomspace(0.00006, 0.00024, N)),  # µS
    "connections[I->E].synapse.weight": list(np.geomspace(0.001, 0.004, N)),      # µS
}
probes = {"lfp": GaussCylinderPotential(z=np.linspace(1000., -200., 13), sigma=0.3,
                                        R=150., sigma_z=75.),
          "cdm": CurrentDipoleMomentZ()}
store = "sweep.zarr"
H = sweep(xk.Network.example(), grid, probes, store=store, client="sync")"""),
        ("code", """ds = xr.open_zarr(store)
ds"""),
        ("code", """kern = ds["kernels"]
sweep_dims = list(kern.dims[:-4])
lfp = kern.isel(probe_channel=np.flatnonzero(kern["probe"].values == "lfp"))
# peak-to-peak LFP kernel of the E population (sum over X), largest over depth
amp = (lfp.sel(Y="E").sum("X").max("tau") - lfp.sel(Y="E").sum("X").min("tau")).max("probe_channel")
amp = amp.compute()
amp.to_pandas()"""),
        ("code", """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
amp.plot(ax=ax, x=sweep_dims[0], cbar_kwargs={"label": "LFP kernel peak-to-peak (mV)"});"""),
        ("md", "One point of the sweep, plotted like any kernels (the CDM, one panel per pair):"),
        ("code", """point = xk.open_kernels(store).isel({d: -1 for d in sweep_dims})
point.xk.probe("cdm").xk.plot(tau_lim=(-5, 40), scale="panel")"""),
        ("code", """values = amp.transpose(*sweep_dims).values
results = {
    "dims": sweep_dims,
    "shape": list(values.shape),
    "finite": bool(np.isfinite(values).all()),
    "increases_with_inhibitory_weight": bool(np.all(np.diff(values, axis=1) > 0)),
    "amplitude_mV": values.tolist(),
}
""" + RESULTS),
    ],
    "04_long_recording_dask.ipynb": [
        ("md", """# A long recording convolved out of core on a dask cluster

Population spike counts of a long recording are stored in Zarr in chunks, opened
lazily, convolved with the kernels chunk by chunk on a `dask.distributed.LocalCluster`
and written straight back to Zarr: nothing holds the whole recording in memory."""),
        ("code", """import os
import dask.array as da
import numpy as np
import xarray as xr
from dask.distributed import Client, LocalCluster
import xkernels as xk
from xkernels.probes import CurrentDipoleMomentZ, GaussCylinderPotential

SECONDS = float(os.environ.get("XKERNELS_NB_SECONDS", 600))   # recording length (s)
dt = 2**-4
n_time = int(SECONDS * 1000 / dt)
cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
client = Client(cluster)
n_time"""),
        ("code", """# Poisson population counts at the README rates, generated chunk-wise by dask
expected = np.array([2.5 * 8192, 5.0 * 1024]) * dt / 1000   # spikes per bin
rs = da.random.RandomState(7)
counts = rs.poisson(expected[:, None], size=(2, n_time), chunks=(2, 2**18)).astype("float32")
rates = xr.DataArray(counts, dims=("X", "time"),
                     coords={"X": ["E", "I"], "time": np.arange(n_time) * dt}, name="rates")
rates.xk.to_zarr("rates.zarr", overwrite=True)   # atomic; plain xr.open_zarr reads it
rates = xr.open_zarr("rates.zarr")["rates"]   # lazy
rates"""),
        ("code", """probes = {"lfp": GaussCylinderPotential(z=np.linspace(1000., -200., 13), sigma=0.3,
                                        R=150., sigma_z=75.),
          "cdm": CurrentDipoleMomentZ()}
H = xk.compute_kernels(xk.Network.example(), probes)
signals = rates.xk.convolve(H, dtype="float32")   # lazy
signals"""),
        ("code", """signals.xk.to_zarr("signals.zarr", overwrite=True)   # computed chunk by chunk
out = xr.open_zarr("signals.zarr")["signals"]
std = out.std("time").compute()
std.to_pandas()"""),
        ("code", """out.xk.plot(time_lim=(1000, 1500))   # reads only this window"""),
        ("md", "Check a stretch against a direct sum over lags, computed independently:"),
        ("code", """t0, n = 100_000 % n_time, 2000
h = H.sum("Y").sel(probe_channel="lfp:6")
lags = np.rint(h["tau"].values / dt).astype(int)
nu = rates.isel(time=slice(max(t0 - 1000, 0), t0 + n + 1000)).values.astype(float)
offset = t0 - max(t0 - 1000, 0)
direct = np.zeros(n)
for i, x in enumerate(["E", "I"]):
    hx = h.sel(X=x).values
    for k in range(n):
        direct[k] += np.dot(hx, nu[i, offset + k - lags])
got = out.sel(probe_channel="lfp:6").isel(time=slice(t0, t0 + n)).values
max_rel_err = float(np.abs(got - direct).max() / np.abs(direct).max())
max_rel_err"""),
        ("code", """client.close(); cluster.close()
results = {
    "n_time": int(n_time),
    "signals_shape": dict(out.sizes),
    "n_chunks": int(np.prod([len(c) for c in out.chunks])),
    "finite_std": bool(np.isfinite(std.values).all()),
    "max_rel_err": max_rel_err,
}
""" + RESULTS),
    ],
}


NOTEBOOKS["05_validation.ipynb"] = [
    ("md", """# How good is the kernel prediction for my network?

The kernels approximate what every cell of the network does. `xkernels.hybrid`
computes that ground truth (the hybrid scheme of Hagen et al. 2016): every postsynaptic
cell placed in its population's cylinder, wired from the actual presynaptic neurons by
the connection probability, multapse and delay distributions and synapse placement,
simulated with LFPy/NEURON with the network's real spikes, its membrane currents mapped
through every probe at its own position. `validate` computes the kernel prediction from
the same spikes beside it, and scores every channel with the signed R² and the ratio of
standard deviations (prediction / ground truth)."""),
    ("code", """import os
import lfpykit
import numpy as np
import xkernels as xk
from xkernels.hybrid import correlated_poisson, plot_validation, validate

T_STOP = float(os.environ.get("XKERNELS_NB_T_STOP", 1000))   # ms
CELLS = int(os.environ.get("XKERNELS_NB_CELLS", 200))        # simulated cells

network = xk.Network.example()          # E 8192, I 1024 ball-and-sticks cells
z = np.linspace(1000., -200., 13)
probes = {
    "lfp": lfpykit.PointSourcePotential(cell=None, x=np.zeros(z.size), y=np.zeros(z.size),
                                        z=z, sigma=0.3),     # contacts on the column axis
    "gauss": xk.GaussCylinderPotential(z=z, sigma=0.3, R=150., sigma_z=75.),
    "cdm": xk.CurrentDipoleMomentZ(),
}"""),
    ("md", """Spikes of every neuron: here correlated Poisson trains at the specified rates
(E 2.5, I 5 spikes/s) whose population rate fluctuates (relative STD 0.5, 20 ms
correlation time). Spikes of your own simulator work the same way:
`xkernels.hybrid.Spikes.from_events(times, senders, {"E": (1, 8192), "I": (8193, 9216)})`
for a NEST spike recorder, or `{"E": [train_0, train_1, ...], ...}`."""),
    ("code", """spikes = correlated_poisson({p.name: p.size for p in network.populations},
                            {p.name: p.rate for p in network.populations},
                            t_stop=T_STOP, seed=1, fluctuation=0.5, tau_c=20.)
spikes"""),
    ("md", """A seeded subsample of the cells (80 % E) is simulated and scaled up by N / m;
each sampled cell is wired exactly as in the full network. Cells run in batches on dask
worker processes (a local cluster by default); with `store="gt.zarr"` a killed run
resumes where it stopped. The first 100 ms are excluded from the scores (the cells start
at rest without synaptic conductance)."""),
    ("code", """n_e = int(0.8 * CELLS)
ds = validate(network, spikes, probes, t_stop=T_STOP, transient=100.,
              n_cells={"E": n_e, "I": CELLS - n_e}, progress=False)
ds[["r2", "std_ratio"]].to_pandas().round(3)"""),
    ("code", """fig = plot_validation(ds, probes=["gauss", "cdm"], time_lim=(0, min(T_STOP, 600)))
fig"""),
    ("md", """Away from the phase reversal near the soma layer the prediction explains most of
the variance. The conductance-based synapses are linearised around Vrest = -65 mV; the
extrinsic input (mean conductance with its reversal potential, `ext="mean"`) keeps the
cells near it. Try `ext="leak"` (extrinsic conductance without drive): the inhibition
then pulls the cells to about -71 mV and the kernels overestimate the signals about
twofold — linearise around the potential your cells actually sit at."""),
    ("code", """gauss = ds.where(ds.probe == "gauss", drop=True)
results = {
    "shape": dict(ds["ground_truth"].sizes),
    "gauss_r2": gauss["r2"].values.tolist(),
    "gauss_std_ratio": gauss["std_ratio"].values.tolist(),
    "cdm_r2": float(ds["r2"].sel(probe_channel="cdm:z")),
    "cdm_std_ratio": float(ds["std_ratio"].sel(probe_channel="cdm:z")),
}
""" + RESULTS),
]


def build(name: str, cells: list[tuple[str, str]]) -> None:
    nb = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                             for kind, src in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    for name, cells in NOTEBOOKS.items():
        build(name, cells)
        print("wrote", HERE / name)
