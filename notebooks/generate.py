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
Figures appear inline (and with `plt.show()` in scripts).

By default the kernels are the accurate ones: every depth of a population with its own
synapse placement (`averaging="depth"`) and, in this conductance-based network, the
synapses linearised where the network's mean input holds the membrane
(`operating_point` and `g_eff` `"auto"`); LFPykernels' own numbers are one option away
(below)."""),
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
H = xk.compute_kernels(network, probes, dt=2**-4, tau=50., Vrest=-65.)
H.attrs["averaging"], H.attrs["g_eff"], H.attrs["operating_point"]   # "auto" resolved"""),
        ("md", """LFPykernels' approximation (one cell at the mean depth, synapses linearised
at Vrest) gives the reference's numbers. The STD of each LFP kernel over tau, default /
reference: around and below the somata (z ≤ 300 µm) they differ by tens of percent, up
to a factor of three where a kernel changes sign across depth; I → I differs by 30 %
everywhere (under the mean input the inhibitory cells sit above Vrest, so the driving
force of their inhibitory synapses is larger):"""),
        ("code", """H_ref = xk.compute_kernels(network, probes, dt=2**-4, tau=50., Vrest=-65., g_eff=True,
                          averaging="reference", operating_point="rest")
ratio = H.xk.probe("lfp").std("tau") / H_ref.xk.probe("lfp").std("tau")
ratio.stack(pair=("X", "Y")).to_pandas().round(2)"""),
        ("md", "The README's pair (X = I, Y = E) is one panel of this array:"),
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
    "operating_point": H.attrs["operating_point"],
    "lfp_std_ratio_range": [float(ratio.min()), float(ratio.max())],
    "signals_shape": dict(signals.sizes),
    "signals_finite": bool(np.isfinite(signals.values).all()),
}
""" + RESULTS),
    ],
    "02_lif_network_nest.ipynb": [
        ("md", """# A LIF network in NEST → LFP, CDM and EEG

In the spirit of LFPykernels' `LIF_net_forward_model_predictions` example: a Brunel-like
E/I network of leaky integrate-and-fire neurons is simulated in NEST
(`xkernels.app.lif`, 1024 + 128 neurons, 1/8 of the README network), its population spike
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
# one scalar rate per population: an array argument would be broadcast to the full
# (2, n_time) shape and shipped inside the task graph
counts = da.stack([rs.poisson(lam, size=n_time, chunks=2**18) for lam in expected]
                  ).astype("float32")
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
    "06_microcircuit.ipynb": [
        ("md", """# The Potjans & Diesmann (2014) cortical microcircuit, end to end

Eight populations (L2/3, L4, L5, L6 × excitatory/inhibitory, 77 169 neurons under
1 mm² of cortex) plus 902 thalamic neurons, with the published connection
probabilities (Potjans & Diesmann 2014, Cereb Cortex 24:785, Table 5), on one layered
ball-and-sticks cell per population (`xk.Network.microcircuit()`; sources and
assumptions in `xkernels.spec.microcircuit`). We compute all 72 kernels (9 presynaptic
× 8 postsynaptic populations) for a 16-contact laminar probe (100 µm spacing from the
pia down), the current dipole moment and the EEG (four-sphere head model); simulate a
downscaled NEST model of the network; scale its spike counts to the full population
sizes and convolve. Units: LFP and EEG in mV, CDM in nA µm, CSD in µA/mm³, time in ms."""),
        ("code", """import os, time
import numpy as np
import matplotlib.pyplot as plt
import xkernels as xk
from xkernels.app import microcircuit as nest_mc
from xkernels.app.demo import eeg_electrodes
from xkernels.spec import microcircuit as mc

T_STOP = float(os.environ.get("XKERNELS_NB_T_STOP", 1200))        # ms, incl. transient
N_SCALING = float(os.environ.get("XKERNELS_NB_N_SCALING", 0.1))    # NEST network size
K_SCALING = float(os.environ.get("XKERNELS_NB_K_SCALING", 0.1))    # NEST in-degrees
TRANSIENT = 200.0
network = xk.Network.microcircuit()
network"""),
        ("code", """z = -100.0 * np.arange(16)          # contacts from the pia (0 µm) to -1500 µm
probes = {
    # sigma_z: the depth smoothing of the probe, >= every population's depth spread
    # (L2/3: 146 µm), which the default averaging="depth" integrates itself
    "lfp": xk.GaussCylinderPotential(z=z, sigma=0.3, R=mc.COLUMN_RADIUS, sigma_z=150.0),
    "csd": xk.CSDProbe(z=z, R=mc.COLUMN_RADIUS),   # 100 µm slabs around the contacts
    "cdm": xk.CurrentDipoleMomentZ(),
    "eeg": xk.EEGProbe(eeg_electrodes()),
}
start = time.perf_counter()
H = xk.compute_kernels(network, probes, dt=2**-4, tau=25., Vrest=-65., g_eff=False)
kernel_seconds = time.perf_counter() - start
print(f"{H.sizes['X'] * H.sizes['Y']} kernels in {kernel_seconds:.1f} s")
H"""),
        ("md", """The 8×8 grid of LFP kernels of the cortical populations (rows: postsynaptic Y,
columns: presynaptic X; depth vs lag; one shared colour scale, clipped at 1 % of the
largest kernel so that weak pairs stay visible). Inhibitory columns show the sign
reversed to excitatory ones; each kernel is large where its presynaptic layer meets
the postsynaptic cell's dendrites."""),
        ("code", """lfp_H = H.xk.probe("lfp").sel(tau=slice(-2, 20))
names = list(mc.POPULATIONS)
vmax = 0.01 * float(abs(lfp_H).max())
fig, axes = plt.subplots(8, 8, figsize=(12, 12), sharex=True, sharey=True)
for i, Y in enumerate(names):
    for j, X in enumerate(names):
        ax = axes[i, j]
        ax.imshow(lfp_H.sel(X=X, Y=Y).values, aspect="auto", cmap="RdBu_r",
                  vmin=-vmax, vmax=vmax, extent=[-2, 20, z[-1] - 50, z[0] + 50],
                  origin="lower" if z[0] < z[-1] else "upper")
        if i == 0:
            ax.set_title(f"X = {X}", fontsize=9)
        if j == 0:
            ax.set_ylabel(f"Y = {Y}\\nz (µm)", fontsize=9)
        if i == 7:
            ax.set_xlabel("τ (ms)", fontsize=9)
fig.suptitle(f"LFP kernels H_YX (mV per spike, colour range ±{vmax:.1e})")
fig.tight_layout()"""),
        ("code", """start = time.perf_counter()
spikes = nest_mc.simulate_microcircuit(
    T_STOP, params=nest_mc.MicrocircuitParams(n_scaling=N_SCALING, k_scaling=K_SCALING),
    threads=2)
nest_seconds = time.perf_counter() - start
print(f"NEST: {T_STOP:.0f} ms in {nest_seconds:.0f} s")
nest_mc.summary(spikes, TRANSIENT)    # rates in spikes/s per neuron"""),
        ("code", """rates = nest_mc.population_rates(spikes, t_start=TRANSIENT)  # full-size counts/bin
signals = rates.xk.convolve(H).compute()
signals"""),
        ("md", """The laminar LFP and the current source density (CSD) of the column, both with
their temporal mean removed. The CSD is a probe like the LFP (`xk.CSDProbe`: the
membrane current per volume of 100 µm slabs of the column around the contacts, in
µA/mm³; sinks negative): its own kernels convolved with the same rates, the ground
truth that a second spatial derivative of the LFP estimates."""),
        ("code", """lfp = signals.xk.probe("lfp")
window = slice(TRANSIENT, min(TRANSIENT + 500, float(lfp.time[-1])))
V = lfp.sel(time=window)
V = V - V.mean("time")        # fluctuations (the mean of the rates gives a DC offset)
csd = signals.xk.probe("csd").sel(time=window)
csd = csd - csd.mean("time")  # µA/mm³
t = V.time.values
fig, (a0, a1) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
v0 = float(abs(V).max())
im = a0.imshow(V.values, aspect="auto", cmap="RdBu_r", vmin=-v0, vmax=v0,
               extent=[t[0], t[-1], z[-1] - 50, z[0] + 50])
plt.colorbar(im, ax=a0, label="LFP (mV)")
c0 = float(abs(csd).max())
im = a1.imshow(csd.values, aspect="auto", cmap="RdBu_r", vmin=-c0, vmax=c0,
               extent=[t[0], t[-1], z[-1] - 50, z[0] + 50])
plt.colorbar(im, ax=a1, label="CSD (µA/mm³)")
for ax in (a0, a1):
    for top, bottom in mc.LAYERS.values():
        ax.axhline(bottom, color="k", lw=0.5)
    ax.set_xlabel("time (ms)")
a0.set_ylabel("z (µm)")
a0.set_title("laminar LFP"); a1.set_title("CSD")
fig.tight_layout()"""),
        ("md", """Per-population contributions: `keep=('X',)` keeps the presynaptic dimension, so
the LFP is split by the population whose spikes cause it. Its standard deviation across
depth shows which populations dominate where. (The simulated network is downscaled and
its counts multiplied by N_full / N_sim: the fluctuations of the rates, hence of the
signals, are larger than in a full-size network by about sqrt(N_full / N_sim).)"""),
        ("code", """by_X = rates.xk.convolve(H, keep=("X",)).compute()
std_X = by_X.xk.probe("lfp").std("time")        # (X, probe_channel)
total_std = lfp.std("time")
fig, ax = plt.subplots(figsize=(6, 5))
for X in std_X.X.values:
    ax.plot(std_X.sel(X=X).values * 1e3, z, label=str(X))
ax.plot(total_std.values * 1e3, z, "k--", lw=2, label="all")
ax.set_xlabel("LFP standard deviation (µV)"); ax.set_ylabel("z (µm)")
ax.legend(fontsize=8)
sum_err = float(abs(by_X.sum("X") - signals).max() / abs(signals).max())
sum_err"""),
        ("code", """fig, (a0, a1) = plt.subplots(2, 1, figsize=(10, 4.5), sharex=True)
sig = signals.sel(time=window)
a0.plot(sig.time, sig.sel(probe_channel="cdm:z"))
a0.set_ylabel("CDM z (nA µm)")
for ch in sig.xk.probe("eeg").probe_channel.values:
    a1.plot(sig.time, sig.sel(probe_channel=ch) * 1e3, label=str(ch))
a1.set_ylabel("EEG (µV)"); a1.set_xlabel("time (ms)"); a1.legend(fontsize=8)
fig.tight_layout()"""),
        ("code", """results = {
    "kernels_shape": dict(H.sizes),
    "kernel_seconds": kernel_seconds,
    "nest_seconds": nest_seconds,
    "mean_rates": {k: float(v) for k, v in spikes.mean_rates(TRANSIENT).items()},
    "rates_shape": dict(rates.sizes),
    "signals_shape": dict(signals.sizes),
    "finite": bool(np.isfinite(signals.values).all()),
    "lfp_std_mV": [float(v) for v in total_std.values],
    "keep_X_sum_rel_err": sum_err,
    "csd_shape": list(csd.shape),
    "corr_eeg0_cdmz": float(np.corrcoef(signals.sel(probe_channel="eeg:0"),
                                        signals.sel(probe_channel="cdm:z"))[0, 1]),
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
`xkernels.Spikes.from_events(times, senders, {"E": (1, 8192), "I": (8193, 9216)})`
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
    ("code", """fig = plot_validation(ds, probes=["lfp", "cdm"], time_lim=(0, min(T_STOP, 600)))
fig"""),
    ("md", """The point contacts (`lfp`) are what an electrode records: the prediction
explains most of their variance, the phase reversal near the soma layer (z = 100 µm)
included, with amplitudes (STD ratio) 6–13 % low. The kernels use the
defaults: every depth of the population with its own synapse placement
(`averaging="depth"`), and the conductance-based synapses linearised around the
potential the mean input holds each segment at (`operating_point="mean-input"`, what
`"auto"` resolves to here), which is where the simulated cells sit (the extrinsic input,
`ext="mean"`: its mean conductance with its reversal potential). With LFPykernels'
approximation (`averaging="reference", operating_point="rest"`) the same run gives STD
ratios 0.66–1.08 on these contacts and R² 0.59 at the phase reversal. Active cells
need no option either: on `xk.Network.example(active=True)` the same call takes the
cells quasi-active (`linearisation="auto"`), the combination that tracked the active
network's ground truth best (27 of 28 channels within ±12 % of its amplitude; see the
"Active cells" page).

The Gaussian cylinder (`gauss`) is itself a population average (a disc and a Gaussian
depth profile): applied to every simulated cell it smooths the ground truth over the
depth spread a second time, which the depth-consistent prediction does not, so near the
phase reversal its scores measure that, not the kernels; use point or line-source
contacts for a physical ground truth. Try `ext="leak"` (extrinsic conductance without
drive): the inhibition then pulls the ground truth's cells to about -71 mV, below the
operating point the kernels assume — linearise around the potential your cells
actually sit at."""),
    ("md", """## How good is my prediction — without a ground truth?

The ground truth costs a simulation of every cell. `xk.error_estimate` estimates the
error of the prediction from the spikes alone (Ness et al. 2025; see the theory page
"Error bars"): how different single cells' kernels are (sampled from the network's own
wiring: targets, multapses, delays, synapse placement, positions) acting on the spikes'
auto- minus cross-covariance (`heterogeneity`), plus the difference between the mean
single-cell kernel and the kernels used acting on the population rates' covariance
(`bias`). The synapses here are conductances, which no linear kernel follows exactly:
16 cells per population are simulated with them and compared with their own linear
prediction, giving per-channel gains (`gain`, applied to the single-cell kernels) and
what no gain explains (`nonlinearity`). Same kernel options as the prediction; here the
point contacts and the CDM (`pool=200` target positions per population instead of up to
1000, to be quick)."""),
    ("code", """est_probes = {k: probes[k] for k in ("lfp", "cdm")}
est = xk.error_estimate(network, est_probes, spikes, t_start=100., t_stop=T_STOP, pool=200)
est[["relative_error", "heterogeneity", "bias", "nonlinearity",
     "signal_std"]].to_pandas().round(3)"""),
    ("md", """Beside the error measured against the ground truth above (`validate` reports both
with `estimate=est`). Careful: this ground truth is a *subsample* of 200 cells, each
standing for N / m ≈ 46 cells, and that sampling adds an error of its own to every
channel. Here most of the estimate is the `nonlinearity` part: the residuals of the 16
simulated cells per population, whose covariance between two cells is scaled by
N_Y (N_Y − 1) ≈ 6.7e7 to the network, with the gains chosen for the network's sum. An
every-cell ground truth of this network with these spike statistics (9216 cells, 2 s;
theory page, "A large network") measured 0.155–0.19 on every channel: the estimate was
within ±30 % on 11 of 14 channels (0.93–1.06) and 1.3–4.4× too large at the three
soma-layer contacts (z = 0–200 µm), where 16 randomly placed cells do not determine the
nonlinearity (its jackknife error there is as large as the part itself)."""),
    ("code", """import pandas as pd
labels = est["probe_channel"].values
pd.DataFrame({"measured (subsampled truth)": ds["relative_error"].sel(probe_channel=labels),
              "estimated": est["relative_error"].values}, index=labels).round(3)"""),
    ("md", """The prediction with its error bar (± `error_std`, per channel):"""),
    ("code", """show = ["lfp:2", "lfp:8", "lfp:11", "cdm:z"]
fig = ds["prediction"].sel(probe_channel=show).xk.plot(error=est,
                                                     time_lim=(100, min(T_STOP, 400)))
fig"""),
    ("code", """gauss = ds.where(ds.probe == "gauss", drop=True)
lfp = ds.where(ds.probe == "lfp", drop=True)
results = {
    "lfp_r2": lfp["r2"].values.tolist(),
    "lfp_std_ratio": lfp["std_ratio"].values.tolist(),
    "shape": dict(ds["ground_truth"].sizes),
    "gauss_r2": gauss["r2"].values.tolist(),
    "gauss_std_ratio": gauss["std_ratio"].values.tolist(),
    "cdm_r2": float(ds["r2"].sel(probe_channel="cdm:z")),
    "cdm_std_ratio": float(ds["std_ratio"].sel(probe_channel="cdm:z")),
    "estimated_relative_error": est["relative_error"].values.tolist(),
}
""" + RESULTS),
]


NOTEBOOKS["07_own_cell.ipynb"] = [
    ("md", """# Bring your own cell

Kernels are only as good as the cell representative of each postsynaptic population.
This notebook takes a reconstructed-style morphology (an SWC file with a soma, three
basal dendrites and an apical dendrite with obliques and a tuft), gives it passive and
then active membranes with NMODL mechanisms of its own, places the synapses by section
and depth, checks the cell in a figure, computes its kernels and validates them against
the hybrid ground truth of a small network. Units: µm, ms, mV, S/cm², nA µm.

The example's files are in `docs/examples/own_cell/` of the xkernels repository: the
morphology `pyramidal.swc` and the NMODL folder `mod/` (`ownleak.mod`, a second leak;
`ownm.mod`, an M-type potassium current after Pospischil et al. 2008)."""),
    ("code", """import os
from pathlib import Path

import numpy as np
import xkernels as xk
from xkernels.cellplot import plot_cell
from xkernels.hybrid import correlated_poisson, plot_validation, validate

T_STOP = float(os.environ.get("XKERNELS_NB_T_STOP", 600))   # ms of validation
CELLS = int(os.environ.get("XKERNELS_NB_CELLS", 40))         # simulated cells
TAU = float(os.environ.get("XKERNELS_NB_TAU", 30))           # kernel length (ms)

OWN = Path(xk.__file__).resolve().parents[1] / "docs" / "examples" / "own_cell"
print(*(OWN / "pyramidal.swc").read_text().splitlines()[:5], "...", sep="\\n")
sorted(p.name for p in (OWN / "mod").iterdir())"""),
    ("md", """## The cell and the network

A cell is a morphology file: `.swc`, `.asc` or `.hoc` (sections at the top level), no
template needed. `params` takes LFPy's cell keywords (axial resistance `Ra` in Ω cm,
`cm` in µF/cm², the segmentation `nsegs_method`, `lambda_f`...), checked against LFPy's
signature; `biophysics` a preset, a function or `"module:function"`. Relative paths are
taken from the working directory (and, in a JSON file, from the file's folder).

Excitatory synapses go to the apical and basal dendrites, with a mixture of depth
densities (µm from the soma layer); inhibitory ones to the soma and the dendrites within
150 µm of it (`z_min`, `z_max`). The inhibitory population keeps the embedded
ball-and-sticks cell."""),
    ("code", """pyramid = {"morphology": str(OWN / "pyramidal.swc"),
           "params": {"Ra": 150.0, "cm": 1.0, "nsegs_method": "lambda_f", "lambda_f": 100},
           "biophysics": {"name": "passive", "g_pas": 3e-5}}
synapse = {"E": {"weight": 3e-4, "tau1": 0.2, "tau2": 1.8, "e": 0.0},
           "I": {"weight": 1.5e-3, "tau1": 0.1, "tau2": 9.0, "e": -80.0}}
placement = {
    "E": {"sections": ["apic", "dend"],
          "densities": [{"name": "norm", "loc": -50.0, "scale": 60.0},
                        {"name": "norm", "loc": 350.0, "scale": 120.0}],
          "weights": [1.0, 2.0]},
    "I": {"sections": ["soma", "dend", "apic"], "z_min": -150.0, "z_max": 150.0,
          "densities": [{"name": "norm", "loc": 0.0, "scale": 80.0}]},
}
network = xk.Network.from_dict({
    "populations": [
        {"name": "E", "size": 400, "rate": 4.0, "cell": pyramid, "radius": 150.0,
         "loc": 0.0, "scale": 50.0},
        {"name": "I", "size": 100, "rate": 8.0, "cell": "ball_and_sticks_I",
         "radius": 150.0, "loc": 0.0, "scale": 50.0}],
    "connections": [
        {"pre": x, "post": y, "probability": 0.1, "synapse": synapse[x],
         "delay": {"name": "truncnorm", "a": -2.0, "b": np.inf, "loc": 1.5, "scale": 0.5},
         "placement": placement[x] if y == "E" else {"sections": ["soma", "dend", "apic"],
                                                     "densities": [{"name": "norm",
                                                                    "loc": 0.0,
                                                                    "scale": 150.0}]}}
        for y in ("E", "I") for x in ("E", "I")],
})
network"""),
    ("md", """## Check the cell

`plot_cell` draws the cell as the kernels see it (soma at the population's mean
depth) and the density of each input's synapses on it, with the synapses per µm of depth
on the right. Segments coloured by section show what the section names in a placement
match."""),
    ("code", """plot_cell(network, "E")"""),
    ("md", """Mistakes are refused before anything is simulated, with the choices spelled
out: a section the cell lacks, a depth window that holds no segment, sections that are
not connected to the cell or have no 3-D points, an unknown LFPy keyword..."""),
    ("code", """wrong = network.with_values({"connections[E->E].placement.sections": ["apical"]})
try:
    xk.compute_kernels(wrong, {"cdm": xk.CurrentDipoleMomentZ()})
except ValueError as err:
    print(err)
try:
    network.with_values({"populations[E].cell.params": {"lamda_f": 100}})
except ValueError as err:
    print(err)"""),
    ("md", """## Kernels of the passive cell"""),
    ("code", """z = np.linspace(900., -300., 13)
probes = {"lfp": xk.GaussCylinderPotential(z=z, sigma=0.3, R=150., sigma_z=50.),
          "cdm": xk.CurrentDipoleMomentZ()}
H = xk.compute_kernels(network, probes, tau=TAU, Vrest=-65.0)
H.xk.plot(tau_lim=(-5, TAU))"""),
    ("md", """## Active membranes with mechanisms of your own

Name a folder of NMODL files in the cell (`mechanisms`): it is compiled once per
content, cached like xkernels' own mechanisms (a one-line message says so while it
compiles), and loaded beside them; a mechanism whose name is already taken (one of
xkernels', a NEURON built-in, another folder's) is refused. Here a function inserts the
leak, the M-current in the soma and proximal dendrites and a second leak in the tuft.
An active cell needs a linearisation: `"quasi-active"` linearises the M-current's gating
around rest, `"frozen"` holds its conductance at rest. The default,
`linearisation="auto"`, decides per population from the specification, before any cell
is built: a membrane a function (or `custom_fun`, or a `mechanisms` folder) builds is
only known once built, so it is taken `"quasi-active"` (the most accurate for active
cells; on a passive membrane the same kernels as `"as-is"`), and the passive preset of
the I cells `"as-is"`. The kernels record what it chose."""),
    ("code", """def own_channels(cell, g_pas=3e-5, gbar_m=5e-4, g_tuft=2e-5):
    \"\"\"Leak everywhere, M-current in soma and basal dendrites, a second leak in the
    tuft (apical sections ending above 500 µm).\"\"\"
    for sec in cell.allseclist:
        sec.insert("pas")
        sec.g_pas, sec.e_pas = g_pas, -65.0
        if "soma" in sec.name() or "dend" in sec.name():
            sec.insert("ownm")
            sec.gbar_ownm = gbar_m
            sec.ek = -90.0
        if "apic" in sec.name() and sec.z3d(sec.n3d() - 1) > 500.0:
            sec.insert("ownleak")
            sec.g_ownleak, sec.e_ownleak = g_tuft, -65.0

active = network.with_values({"populations[E].cell.biophysics": own_channels,
                              "populations[E].cell.mechanisms": str(OWN / "mod")})
H_frozen = xk.compute_kernels(active, probes, tau=TAU, Vrest=-65.0,
                              linearisation={"E": "frozen", "I": "passive"})
H_qa = xk.compute_kernels(active, probes, tau=TAU, Vrest=-65.0)   # linearisation="auto"
H_qa.attrs["linearisation"]"""),
    ("code", """import matplotlib.pyplot as plt
fig, axes = plt.subplots(1, 2, figsize=(9, 3), layout="constrained")
for ax, pre in zip(axes, ("E", "I")):
    for label, kernels in (("passive", H), ("frozen", H_frozen), ("quasi-active", H_qa)):
        k = kernels.sel(X=pre, Y="E", probe_channel="cdm:z")
        ax.plot(k.tau, k, label=label)
    ax.set(xlim=(-2, TAU), xlabel="tau (ms)", ylabel="CDM (nA µm per spike)",
           title=f"{pre} -> E")
_ = axes[0].legend(frameon=False)"""),
    ("md", """The channel adds conductance: both linearised kernels are smaller and faster than
the passive one, most for the perisomatic inhibition, where the M-current sits. Its
gating is slow near rest (tau_p ≈ 190 ms at -65 mV), so over a 30 ms kernel the
quasi-active membrane is almost the frozen one; fast gating (the sodium and potassium
channels of the `"active"` preset) separates them."""),
    ("md", """## Validate on a small network

`validate` simulates a sample of the network's cells with LFPy — this morphology,
these mechanisms, each cell wired to the actual presynaptic spikes — and scores the
kernel prediction per channel (signed R² and STD ratio, prediction / ground truth)."""),
    ("code", """spikes = correlated_poisson({p.name: p.size for p in network.populations},
                            {p.name: p.rate for p in network.populations},
                            t_stop=T_STOP, seed=2, fluctuation=0.5, tau_c=20.)
n_e = int(0.8 * CELLS)
ds = validate(network, spikes, probes, t_stop=T_STOP, transient=100.,
              n_cells={"E": n_e, "I": CELLS - n_e}, client="sync", progress=False,
              Vrest=-65.0)
ds[["r2", "std_ratio"]].to_pandas().round(2)"""),
    ("code", """fig = plot_validation(ds, time_lim=(100, T_STOP))
fig"""),
    ("md", """With 40 cells over 600 ms the prediction follows the ground truth on every channel
(R² about 0.8-0.9, lowest where the LFP reverses sign). Its amplitude is 10-30 % high:
these kernels use the reference's approximations (one cell at the mean depth,
linearised at Vrest); `averaging="depth"` and `operating_point="mean-input"` are what
to try next, with `validate` to tell."""),
    ("code", """results = {
    "kernels_shape": dict(H.sizes),
    "cdm_peak": {m: float(abs(k.sel(Y="E", probe_channel="cdm:z")).max())
                 for m, k in (("passive", H), ("frozen", H_frozen), ("quasi-active", H_qa))},
    "cdm_r2": float(ds["r2"].sel(probe_channel="cdm:z")),
    "cdm_std_ratio": float(ds["std_ratio"].sel(probe_channel="cdm:z")),
    "finite": bool(np.isfinite(H.values).all() and np.isfinite(H_qa.values).all()),
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
