"""Tests of xkernels.sweep and the superposition fast path (real NEURON, real stores)."""

from __future__ import annotations

import copy
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from xkernels import KernelOptions, compute_kernels
from xkernels import probes as P
from xkernels.spec import Network
from xkernels.sweeps.driver import sweep
from xkernels.sweeps.grid import grid_points, parse_grid
from xkernels.sweeps.points import PointBuilder

ROOT = Path(__file__).resolve().parents[1]
TAU = 10.0
#: LFPykernels' approximation: one cell at the mean depth, synapses linearised at rest
#: (where a test needs the fast path with g_eff on, or the reference's membrane)
REFERENCE = {"averaging": "reference", "operating_point": "rest"}
W_EE = "connections[E->E].synapse.weight"
DELAY_EE = "connections[E->E].delay.params.loc"
PLACE_EE = "connections[E->E].placement.densities[0].params.loc"


def make_probes():
    return {"lfp": P.GaussCylinderPotential(cell=None, z=np.array([500.0, 0.0, -200.0]),
                                            sigma=0.3, R=150.0, sigma_z=75.0),
            "cdm": P.CurrentDipoleMomentZ(cell=None)}


@pytest.fixture(scope="module")
def net():
    return Network.example()


def modified(net: Network, changes: dict) -> Network:
    """Independent construction of a point: edit to_dict() and parse it whole."""
    spec = copy.deepcopy(net.to_dict())
    for path, value in changes.items():
        kind, owner, *rest = path.replace("]", "").replace("[", ".").split(".")
        items = spec[kind]
        if kind == "connections":
            node = next(c for c in items if f"{c['pre']}->{c['post']}" == owner)
        else:
            node = next(p for p in items if p["name"] == owner)
        for token in rest[:-1]:
            node = node[int(token)] if isinstance(node, list) else node[token]
        node[int(rest[-1]) if isinstance(node, list) else rest[-1]] = value
    return Network.from_dict(spec)


def assert_close(a, b, rtol=1e-6):
    a, b = np.asarray(a), np.asarray(b)
    scale = np.abs(b).max()
    assert scale > 0
    assert np.abs(a - b).max() <= rtol * scale, np.abs(a - b).max() / scale


# --------------------------------------------------------------------------------------
# grid and point specifications
# --------------------------------------------------------------------------------------
def test_readable_dims_paths_and_zip(net):
    axes = parse_grid(net, {W_EE: [1e-4, 2e-4], "connections['I->E'].delay.params.loc": [1.0],
                            PLACE_EE: [0.0, 50.0], "populations[E].rate": [1.0, 2.0, 3.0],
                            "Vrest": [-70.0, -60.0, -50.0]},
                      zipped=[["populations[E].rate", "Vrest"]])
    assert [a.dim for a in axes] == ["weight_E_E", "delay_loc_I_E", "placement_loc_E_E",
                                     "rate_E__Vrest"]
    assert axes[1].params[0].path == "connections[I->E].delay.params.loc"
    points = list(grid_points(axes))
    assert len(points) == 2 * 1 * 2 * 3
    index, values = points[-1]
    assert index == (1, 0, 1, 2)
    assert values["populations[E].rate"] == 3.0 and values["Vrest"] == -50.0
    named = parse_grid(net, {W_EE: [1.0]}, names={W_EE: "wee"})
    assert named[0].dim == "wee"


@pytest.mark.parametrize("grid, zipped, match", [
    ({"connections[E->E].synapse.wieght": [1.0]}, None,
     r"unknown parameter path .*did you mean:\n  connections\[E->E\]\.synapse\.weight\n"),
    ({W_EE: []}, None, "non-empty list"),
    ({W_EE: [1e-4, np.nan]}, None, "finite"),
    ({W_EE: [1e-4, np.inf]}, None, "finite"),
    ({W_EE: [1e-4, 1e-4]}, None, "unique"),
    ({W_EE: [1e-4, 2e-4], DELAY_EE: [1.0]}, [[W_EE, DELAY_EE]], "equal numbers"),
    ({W_EE: [1e-4]}, [[W_EE, "Vrest"]], "not a key of grid"),
    ({"populations[E].name": ["F"]}, None, "unknown parameter path"),
])
def test_bad_grids(net, grid, zipped, match):
    with pytest.raises(ValueError, match=match):
        parse_grid(net, grid, zipped=zipped)


def test_bad_value_types(net):
    with pytest.raises(TypeError, match="non-empty list"):
        parse_grid(net, {W_EE: 1e-4})
    with pytest.raises(TypeError, match="all real numbers or all str"):
        parse_grid(net, {W_EE: [1e-4, "a"]})


def test_points_equal_whole_specifications(net):
    grid = {W_EE: [1e-4, 3e-4], DELAY_EE: [0.5, 2.0], PLACE_EE: [-50.0, 200.0],
            "connections[I->E].probability": [0.1], "populations[I].rate": [7.0],
            "populations[E].cell.biophysics.g_pas": [2e-4], "Vrest": [-60.0]}
    axes = parse_grid(net, grid)
    builder = PointBuilder(net, axes, KernelOptions(g_eff=False))
    for _, values in grid_points(axes):
        spec = builder.build(values)
        expected = modified(net, {k: v for k, v in values.items() if k != "Vrest"})
        assert spec.network == expected
        # resolved for the point's network: g_eff off, so at rest; passive cells, so
        # taken as they are, with the linear solver
        assert spec.options == KernelOptions(g_eff=False, Vrest=-60.0, operating_point="rest",
                                             solver="linear", linearisation="as-is")
    assert net == Network.example()  # the base is not modified


def test_invalid_points_fail_before_anything_runs(net, tmp_path):
    store = tmp_path / "bad.zarr"
    # tau1 >= tau2 for the last value only
    with pytest.raises(ValueError, match=r"synapse.tau1=2.0 is invalid: .*tau1 must be < tau2"):
        sweep(net, {"connections[E->E].synapse.tau1": [0.1, 2.0]}, make_probes(), tau=TAU,
              store=store, client="sync")
    with pytest.raises(ValueError, match=r"delay.params.scale=-1.0 is invalid"):
        sweep(net, {"connections[E->E].delay.params.scale": [0.5, -1.0]}, make_probes(),
              tau=TAU, store=store, client="sync")
    with pytest.raises(ValueError, match="t_X must be >= tau"):
        sweep(net, {"t_X": [100.0, 5.0]}, make_probes(), tau=TAU, store=store, client="sync")
    # needs the cell geometry: a placement section the cell does not have
    with pytest.raises(ValueError, match=r"sweep point .*'nosuchsection' does not exist"):
        sweep(net, {"connections[E->E].placement.sections[0]": ["apic", "nosuchsection"]},
              make_probes(), tau=TAU, store=store, client="sync")
    # nothing written; the store's lock file (taken to plan on the cells) is never deleted
    assert [p.name for p in tmp_path.iterdir()] == [".bad.zarr.lock"]


def test_points_the_specification_refuses_are_refused(net, tmp_path, monkeypatch):
    """Issue 20: a negative conductance in a conductance-based network was swept
    (mirror-image kernels) where Network.from_dict refuses it; now every point is
    validated as from_dict validates it, before anything is simulated."""
    import xkernels
    import xkernels.sweeps.driver as driver

    spec = net.to_dict()
    spec["connections"][0]["synapse"]["weight"] = -1e-4
    with pytest.raises(ValueError) as refused:
        Network.from_dict(spec)
    expected = str(refused.value)
    assert expected.startswith("connections['E->E'].synapse.weight must be >= 0")

    def never(*args, **kwargs):
        raise AssertionError("a point was computed")

    monkeypatch.setattr(driver, "_compute", never)
    store = tmp_path / "s.zarr"
    for grid, zipped in (({W_EE: [1e-4, -1e-4]}, None),
                         ({W_EE: [1e-4, -1e-4], "Vrest": [-65.0, -70.0]}, [[W_EE, "Vrest"]])):
        for where in (None, store):
            with pytest.raises(ValueError) as info:
                xkernels.sweep(net, grid, make_probes(), tau=TAU, zipped=zipped, store=where,
                               client="sync")
            message = str(info.value)
            assert "\n" not in message
            assert message == f"sweep point with {W_EE}=-0.0001 is invalid: {expected}"
    assert not list(tmp_path.iterdir())


def test_with_values_equals_whole_specifications(net):
    changes = {W_EE: 3e-4, PLACE_EE: -50.0, "populations[E].rotation.x": 0.5,
               "connections[I->E].placement.sections[0]": "dend"}
    assert net.with_values(changes) == modified(net, changes)
    assert net.with_values({}) == net and net == Network.example()
    with pytest.raises(ValueError, match=r"no connections\['E->X'\]"):
        net.with_values({"connections[E->X].synapse.weight": 1.0})
    with pytest.raises(ValueError, match=r"synapse keys must be a subset .* did you mean"):
        net.with_values({"connections[E->E].synapse.wieght": 1.0})


# --------------------------------------------------------------------------------------
# superposition against the full simulation
# --------------------------------------------------------------------------------------
def test_superposition_equals_simulation_per_point(net, caplog):
    grid = {W_EE: [0.5e-4, 2e-4], PLACE_EE: [-100.0, 300.0], DELAY_EE: [0.8, 2.5],
            "connections[I->E].synapse.weight": [0.001, 0.004]}
    probes = make_probes()
    with caplog.at_level(logging.INFO, logger="xkernels.sweeps"):
        H = sweep(net, grid, probes, tau=TAU, g_eff=False, client="sync")
    assert "by superposition" in caplog.text
    assert H.dims == ("weight_E_E", "placement_loc_E_E", "delay_loc_E_E", "weight_I_E",
                      "X", "Y", "probe_channel", "tau")
    assert H.coords["weight_E_E"].attrs["path"] == W_EE
    assert json.loads(H.attrs["sweep_paths"])["delay_loc_E_E"] == DELAY_EE
    assert Network.from_kernels(H) == net
    for _, values in list(grid_points(parse_grid(net, grid)))[::3]:
        point = modified(net, values)
        ref = compute_kernels(point, probes, tau=TAU, g_eff=False)
        got = H.sel({"weight_E_E": values[W_EE], "placement_loc_E_E": values[PLACE_EE],
                     "delay_loc_E_E": values[DELAY_EE],
                     "weight_I_E": values["connections[I->E].synapse.weight"]})
        assert_close(got.values, ref.values)


def test_superposition_with_geff_vrest_sweep(net, caplog):
    """g_eff on: delays and Vrest leave the membrane alone when e_pas is explicit, and
    give one membrane per value when Vrest sets the leak reversal potential."""
    explicit = modified(net, {"populations[E].cell.biophysics.e_pas": -65.0,
                              "populations[I].cell.biophysics.e_pas": -65.0})
    probes = make_probes()
    grid = {"Vrest": [-70.0, -55.0], DELAY_EE: [1.0, 2.0]}
    for network in (explicit, net):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="xkernels.sweeps"):
            H = sweep(network, grid, probes, tau=TAU, g_eff=True, client="sync",
                      method="superposition", **REFERENCE)
        for vrest in grid["Vrest"]:
            point = modified(network, {DELAY_EE: 2.0})
            ref = compute_kernels(point, probes, tau=TAU, g_eff=True, Vrest=vrest,
                                  **REFERENCE)
            assert_close(H.sel(Vrest=vrest, delay_loc_E_E=2.0).values, ref.values)


def test_auto_never_superposes_a_changing_membrane(net, caplog):
    with caplog.at_level(logging.INFO, logger="xkernels.sweeps"):
        sweep(net, {W_EE: [1e-4, 2e-4, 3e-4]}, make_probes(), tau=TAU, g_eff=True,
              client="sync")
    # never the superposition: the points are computed by the batched linear solver
    # (passive cells), or simulated one by one with solver="neuron"
    assert "by linear" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="xkernels.sweeps"):
        sweep(net, {W_EE: [1e-4, 2e-4, 3e-4]}, make_probes(), tau=TAU, g_eff=True,
              client="sync", solver="neuron")
    assert "by simulate" in caplog.text


def insert_hh(cell):
    """A non-linear membrane (Hodgkin-Huxley) for the validity test."""
    for sec in cell.template.all:
        sec.insert("hh")


def test_nonlinear_membrane_is_never_superposed(net, caplog):
    spec = net.to_dict()
    for pop in spec["populations"]:
        pop["cell"]["biophysics"] = insert_hh
    hh = Network.from_dict(spec)
    grid = {DELAY_EE: [1.0, 1.5, 2.0, 2.5]}
    with pytest.raises(ValueError, match="needs linear"):
        sweep(hh, grid, make_probes(), tau=TAU, t_X=20.0, g_eff=False, client="sync",
              method="superposition", linearisation="as-is")
    with caplog.at_level(logging.INFO, logger="xkernels.sweeps"):
        sweep(hh, grid, make_probes(), tau=TAU, t_X=20.0, g_eff=False, client="sync",
              linearisation="as-is")
    assert "by simulate" in caplog.text


def test_linearised_sweep_simulates_every_point(caplog):
    active = Network.example(active=True)
    grid = {W_EE: [1e-4, 2e-4]}
    with pytest.raises(ValueError, match="superposition' needs membranes simulated as"):
        sweep(active, grid, make_probes(), tau=2.0, client="sync", method="superposition",
              linearisation="frozen", **REFERENCE)
    with caplog.at_level(logging.INFO, logger="xkernels.sweeps"):
        S = sweep(active, grid, make_probes(), tau=2.0, client="sync",
                  linearisation={"E": "quasi-active", "I": "frozen"}, **REFERENCE)
    assert "by simulate" in caplog.text
    assert json.loads(S.attrs["linearisation"]) == {"E": "quasi-active", "I": "frozen"}
    ref = compute_kernels(modified(active, {W_EE: 2e-4}), make_probes(), tau=2.0,
                          linearisation={"E": "quasi-active", "I": "frozen"}, **REFERENCE)
    np.testing.assert_array_equal(S.sel(weight_E_E=2e-4).values, ref.values)


def test_zero_weight_point(net):
    H = sweep(net, {W_EE: [0.0, 1e-4]}, make_probes(), tau=TAU, g_eff=False, client="sync",
              method="superposition")
    assert np.all(H.sel(weight_E_E=0.0, X="E", Y="E").values == 0.0)
    ref = compute_kernels(modified(net, {W_EE: 1e-4}), make_probes(), tau=TAU, g_eff=False)
    assert_close(H.sel(weight_E_E=1e-4).values, ref.values)


# --------------------------------------------------------------------------------------
# stores: resume, driver killed, other sweep
# --------------------------------------------------------------------------------------
CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {tests!r})
    from test_sweep import make_probes, DELAY_EE, W_EE, TAU
    from xkernels.spec import Network
    from xkernels.sweeps.driver import sweep
    sweep(Network.example(), {{W_EE: list(np.linspace(1e-4, 3e-4, 8)),
                               DELAY_EE: list(np.linspace(0.5, 3.0, 5))}},
          make_probes(), tau=TAU, g_eff=True, store=sys.argv[1], client="sync",
          method="simulate", progress=False)
""")
KILL_GRID = {W_EE: list(np.linspace(1e-4, 3e-4, 8)), DELAY_EE: list(np.linspace(0.5, 3.0, 5))}


@pytest.mark.slow
def test_resume_after_sigkill_of_the_driver(tmp_path, caplog):
    from xkernels.store import completed_points, open_kernels
    from xkernels.store.publish import KILL_ENV

    script = tmp_path / "child.py"
    script.write_text(CHILD.format(root=str(ROOT), tests=str(ROOT / "tests")))
    killed_store = tmp_path / "killed.zarr"
    # deterministic: the driver SIGKILLs itself right after its third stored block
    child = subprocess.run([sys.executable, str(script), str(killed_store)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=dict(os.environ, **{KILL_ENV: "region:kernels-flagged#3"}),
                           timeout=300)
    assert child.returncode == -signal.SIGKILL
    done = completed_points(killed_store)
    assert 0 < done.sum() < done.size, "the driver must be killed mid-sweep"
    net = Network.example()
    kwargs = {"tau": TAU, "g_eff": True, "client": "sync", "method": "simulate"}
    with caplog.at_level(logging.INFO, logger="xkernels.sweeps"):
        resumed = sweep(net, KILL_GRID, make_probes(), store=killed_store, **kwargs)
    assert f"computing {done.size - done.sum()} of {done.size} points" in caplog.text
    whole = sweep(net, KILL_GRID, make_probes(), store=tmp_path / "whole.zarr", **kwargs)
    xr.testing.assert_identical(resumed.load(), whole.load())
    assert completed_points(killed_store).all()
    in_memory = sweep(net, KILL_GRID, make_probes(), **kwargs)
    np.testing.assert_array_equal(in_memory.values, whole.values)
    # running again computes nothing
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="xkernels.sweeps"):
        again = sweep(net, KILL_GRID, make_probes(), store=killed_store, **kwargs)
    assert "already in the store" in caplog.text
    xr.testing.assert_identical(again.load(), open_kernels(tmp_path / "whole.zarr").load())


def _snapshot(path: Path) -> dict:
    return {str(p): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_store_of_another_sweep_is_refused_untouched(net, tmp_path):
    store = tmp_path / "s.zarr"
    grid = {DELAY_EE: [1.0, 2.0]}
    sweep(net, grid, make_probes(), tau=TAU, g_eff=False, store=store, client="sync")
    before = _snapshot(store)
    other = modified(net, {"populations[E].rate": 9.0})
    with pytest.raises(ValueError, match="holds a different sweep"):
        sweep(other, grid, make_probes(), tau=TAU, g_eff=False, store=store, client="sync")
    with pytest.raises(ValueError, match="holds a different sweep"):
        sweep(net, {DELAY_EE: [1.0, 3.0]}, make_probes(), tau=TAU, g_eff=False, store=store,
              client="sync")
    assert _snapshot(store) == before


def test_zipped_sweep_in_store(net, tmp_path):
    grid = {W_EE: [1e-4, 2e-4, 3e-4], "populations[E].rate": [1.0, 1.0, 4.0]}
    H = sweep(net, grid, make_probes(), tau=TAU, g_eff=True, zipped=[list(grid)],
              store=tmp_path / "z.zarr", client="sync")
    assert H.dims[0] == "weight_E_E__rate_E"
    assert H.coords["rate_E"].values.tolist() == [1.0, 1.0, 4.0]
    opened = xr.open_zarr(tmp_path / "z.zarr")
    assert opened["kernels"].dims == H.dims
    ref = compute_kernels(modified(net, {W_EE: 3e-4, "populations[E].rate": 4.0}),
                          make_probes(), tau=TAU, g_eff=True)
    assert_close(H.isel(weight_E_E__rate_E=2).values, ref.values, rtol=1e-12)


# --------------------------------------------------------------------------------------
# dask.distributed: a real LocalCluster, a worker killed mid-sweep
# --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_worker_killed_mid_sweep_is_retried(net):
    from dask.distributed import Client, LocalCluster

    grid = {W_EE: list(np.linspace(1e-4, 3e-4, 6)), DELAY_EE: [1.0, 2.0]}
    kwargs = {"tau": TAU, "g_eff": True, "method": "simulate", "progress": False}
    serial = sweep(net, grid, make_probes(), client="sync", **kwargs)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(2)
        pids = client.run(os.getpid)
        killed: list = []

        def killer():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not killed:
                for address, keys in client.processing().items():
                    if any("simulate_point" in str(k) for k in keys) and address in pids:
                        os.kill(pids[address], signal.SIGKILL)
                        killed.append(address)
                        return
                time.sleep(0.005)

        thread = threading.Thread(target=killer)
        thread.start()
        result = sweep(net, grid, make_probes(), client=client, **kwargs)
        thread.join()
    assert killed, "a worker must have been killed while simulating a point"
    np.testing.assert_array_equal(result.values, serial.values)
    xr.testing.assert_identical(result, serial)


# --------------------------------------------------------------------------------------
# sweep dims flow into convolution
# --------------------------------------------------------------------------------------
def test_sweep_dims_flow_into_convolution(net):
    from xkernels.signals import convolve

    H = sweep(net, {W_EE: [1e-4, 2e-4]}, make_probes(), tau=TAU, g_eff=False, client="sync")
    dt = H.attrs["dt"]
    rng = np.random.default_rng(0)
    time_axis = np.arange(400) * dt
    plain = xr.DataArray(rng.poisson(2.0, (2, 400)).astype(float), dims=("X", "time"),
                         coords={"X": ["E", "I"], "time": time_axis})
    out = convolve(plain, H).compute()
    assert "weight_E_E" in out.dims
    paired = xr.concat([plain, 2 * plain], dim="weight_E_E").assign_coords(
        weight_E_E=H.weight_E_E.values)
    out_paired = convolve(paired, H).compute()
    assert out_paired.sizes["weight_E_E"] == 2
    for w, factor in zip(H.weight_E_E.values, (1.0, 2.0)):
        one = convolve(plain, H.sel(weight_E_E=w)).compute()
        np.testing.assert_allclose(out.sel(weight_E_E=w).values, one.values, rtol=1e-12,
                                   atol=1e-12 * abs(one.values).max())
        np.testing.assert_allclose(out_paired.sel(weight_E_E=w).values, factor * one.values,
                                   rtol=1e-10, atol=1e-10 * abs(one.values).max())


# --------------------------------------------------------------------------------------
# growing a stored sweep with new values
# --------------------------------------------------------------------------------------
GROW_SMALL = {W_EE: [1e-4, 2e-4], DELAY_EE: [1.0]}
GROW_BIG = {W_EE: [1e-4, 2e-4, 3e-4], DELAY_EE: [1.0, 2.5]}
GROW_OPTIONS = {"tau": TAU, "g_eff": True, "client": "sync", "method": "simulate"}


def _kernel_chunks(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(path)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted((path / "kernels" / "c").rglob("*")) if p.is_file()}


def test_stored_sweep_grows_with_new_values(net, tmp_path, caplog):
    from xkernels.store import completed_points

    path = tmp_path / "grown.zarr"
    sweep(net, GROW_SMALL, make_probes(), store=path, **GROW_OPTIONS)
    chunks = _kernel_chunks(path)
    with caplog.at_level(logging.INFO, logger="xkernels.sweeps"):  # one dim
        sweep(net, {W_EE: [1e-4, 2e-4, 3e-4], DELAY_EE: [1.0]}, make_probes(), store=path,
              **GROW_OPTIONS)
    assert "computing 1 of 3 points" in caplog.text
    assert {k: v for k, v in _kernel_chunks(path).items() if k in chunks} == chunks
    with pytest.raises(ValueError, match=r"holds a different sweep.*'weight_E_E'.*stored "
                                         r"values \[0.0001, 0.0002, 0.0003\].*appended"):
        sweep(net, {W_EE: [0.5e-4, 1e-4, 2e-4, 3e-4], DELAY_EE: [1.0]}, make_probes(),
              store=path, **GROW_OPTIONS)
    caplog.clear()
    chunks = _kernel_chunks(path)
    with caplog.at_level(logging.INFO, logger="xkernels.sweeps"):  # both dims
        grown = sweep(net, {W_EE: [1e-4, 2e-4, 3e-4, 4e-4], DELAY_EE: [1.0, 2.5]},
                      make_probes(), store=path, **GROW_OPTIONS)
    assert "computing 5 of 8 points" in caplog.text
    assert {k: v for k, v in _kernel_chunks(path).items() if k in chunks} == chunks
    assert completed_points(path).all()
    fresh = sweep(net, {W_EE: [1e-4, 2e-4, 3e-4, 4e-4], DELAY_EE: [1.0, 2.5]}, make_probes(),
                  store=tmp_path / "fresh.zarr", **GROW_OPTIONS)
    xr.testing.assert_identical(grown.load(), fresh.load())


@pytest.mark.slow
def test_sigkill_while_growing_then_resume(net, tmp_path, caplog):
    """The driver killed in the middle of growing the store: the next run completes it."""
    reference = sweep(net, GROW_BIG, make_probes(), store=tmp_path / "ref.zarr",
                      **GROW_OPTIONS).load()
    # grown copy built, old store moved aside (nothing at the path), new one in place
    for k, kill_at in enumerate(("grow:built", "publish:moved-aside", "publish:renamed")):
        path = tmp_path / f"killed{k}.zarr"
        sweep(net, GROW_SMALL, make_probes(), store=path, **GROW_OPTIONS)
        child = subprocess.run([sys.executable, str(ROOT / "tests" / "_grow_writer.py"),
                                "sweep-grow", str(path)], cwd=ROOT,
                               env={**os.environ, "PYTHONPATH": str(ROOT),
                                    "XKERNELS_KILL_AT": kill_at})
        assert child.returncode == -signal.SIGKILL
        assert path.exists() == (kill_at != "publish:moved-aside")
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="xkernels.sweeps"):
            resumed = sweep(net, GROW_BIG, make_probes(), store=path, **GROW_OPTIONS)
        assert "computing 4 of 6 points" in caplog.text
        xr.testing.assert_identical(resumed.load(), reference)
