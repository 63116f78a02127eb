"""Figures rendered to PNG files and checked (size, content), not by eye."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from matplotlib.image import imread

import xkernels  # noqa: F401  (registers .xk)
from xkernels.contract import channel_coords
from xkernels.figures import XkFigure
from xkernels.plot import nice_number, plot, readable_units


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def fake_kernels() -> xr.DataArray:
    """Small analytic kernels: 5-depth LFP (mV), z-only CDM (nA µm), 2 EEG channels."""
    tau = np.arange(-40, 161) * 0.0625
    z = np.linspace(400.0, -400.0, 5)
    pieces = [channel_coords("lfp", [f"lfp:{i}" for i in range(5)], "mV", z=z),
              channel_coords("cdm", ["cdm:x", "cdm:y", "cdm:z"], "nA µm"),
              channel_coords("eeg", ["eeg:0", "eeg:1"], "mV", x=[0, 1e4], y=[0, 0],
                             z=[9e4, 8.9e4])]
    coords = {k: ("probe_channel", np.concatenate([p[k][1] for p in pieces]))
              for k in pieces[0]}
    shape = np.exp(-np.clip(tau, 0, None) / 2.0) * (tau > 0)
    rows = np.concatenate([1e-4 * np.sin(z / 300.0), [0.0, 0.0, 50.0], [1e-7, 5e-8]])
    sign = np.array([[1.0, -2.0], [0.5, -1.0]])  # (X, Y)
    data = sign.T[:, :, None, None] * rows[None, None, :, None] * shape
    data = np.transpose(data, (1, 0, 2, 3))  # dims X, Y
    coords.update(X=["E", "I"], Y=["E", "I"], tau=tau)
    return xr.DataArray(data, dims=("X", "Y", "probe_channel", "tau"), coords=coords,
                        name="kernels")


def check_png(path, figsize, dpi) -> np.ndarray:
    img = imread(path)
    assert img.shape[0] == pytest.approx(figsize[1] * dpi, abs=2)
    assert img.shape[1] == pytest.approx(figsize[0] * dpi, abs=2)
    rgb = img[..., :3]
    not_white = np.any(rgb < 0.9, axis=-1).mean()
    assert 0.02 < not_white < 0.9, not_white  # drawn on, but not a solid block
    assert rgb.std() > 0.05
    assert path.stat().st_size > 10_000
    return img


@pytest.mark.parametrize("kind", ["traces", "image"])
def test_kernels_png(tmp_path, kind):
    H = fake_kernels()
    fig = H.xk.plot(kind=kind)
    path = tmp_path / f"kernels_{kind}.png"
    fig.savefig(path, dpi=60)
    check_png(path, fig.get_size_inches(), 60)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    # 2 Y × 3 probes rows, 2 X columns
    assert len(titles) == 12
    assert "I → E  (lfp)" in titles and "E → I  (cdm)" in titles
    if kind == "image":
        assert any(ax.get_ylabel() == "nV" for ax in fig.axes)  # colour bar: 1.9e-4 mV


def test_kernel_traces_are_the_data(tmp_path):
    """Depth traces are offsets + gain × kernel; the scale bar names the units."""
    H = fake_kernels()
    fig = plot(H, probes=["lfp"])
    ax = next(a for a in fig.axes if a.get_title() == "I → E  (lfp)")
    traces = depth_traces(ax)
    assert len(traces) == 5 and all(len(seg) == H.sizes["tau"] for seg in traces)
    top = traces[0]  # highest contact first
    np.testing.assert_array_equal(top[:, 0], H.tau.values)
    expected = H.sel(X="I", Y="E", probe_channel="lfp:0").values
    y = top[:, 1] - 400.0
    ratio = y[np.abs(expected) > 0] / expected[np.abs(expected) > 0]
    assert np.allclose(ratio, ratio[0]) and ratio[0] > 0
    texts = [t.get_text() for t in ax.texts]
    assert any("nV" in t for t in texts), texts
    # the CDM x/y channels are identically zero and not drawn
    fig = plot(H, probes=["cdm"])
    ax = next(a for a in fig.axes if a.get_title() == "E → E  (cdm)")
    assert len(ax.get_lines()) == 1 + 1  # cdm:z and the tau = 0 marker


def test_signals_png_with_rates(tmp_path):
    H = fake_kernels()
    rng = np.random.default_rng(1)
    time = np.arange(4000) * 0.0625
    rates = xr.DataArray(rng.poisson(3.0, (2, time.size)).astype(float), dims=("X", "time"),
                         coords={"X": ["E", "I"], "time": time}, name="rates")
    data = np.einsum("xyct,xs->cs", H.values[..., :1], rates.values)  # any finite signal
    signals = xr.DataArray(data, dims=("probe_channel", "time"),
                           coords={**{k: v for k, v in H.coords.items()
                                      if v.dims == ("probe_channel",)}, "time": time})
    fig = signals.chunk({"time": 1000}).xk.plot(rates=rates, time_lim=(10.0, 200.0))
    path = tmp_path / "signals.png"
    fig.savefig(path, dpi=60)
    check_png(path, fig.get_size_inches(), 60)
    assert len([ax for ax in fig.axes if ax.get_title()]) == 4  # rates + 3 probes
    xdata = depth_traces(fig.axes[1])[0][:, 0]
    assert xdata[0] >= 10.0 and xdata[-1] <= 200.0


def test_bad_arguments():
    H = fake_kernels()
    with pytest.raises(ValueError, match="kind must be one of"):
        plot(H, kind="bars")
    with pytest.raises(ValueError, match=r"scale must be one of \['shared', 'panel'\]"):
        plot(H, scale="own")
    with pytest.raises(ValueError, match="probes \\['meg'\\] not found"):
        plot(H, probes=["meg"])
    with pytest.raises(ValueError, match="extra dims \\['w'\\]"):
        plot(H.expand_dims(w=[1, 2]))
    with pytest.raises(ValueError, match="tau_lim"):
        plot(H, tau_lim=(5, 1))
    with pytest.raises(ValueError, match="cannot plot"):
        plot(H.isel(tau=0))
    with pytest.raises(TypeError):
        plot(H.values)


def test_unit_helpers():
    assert readable_units("mV", 2e-2) == (pytest.approx(1000.0), "µV")
    assert readable_units("mV", 2e-4) == (pytest.approx(1e6), "nV")
    assert readable_units("mV", 3.0) == (1.0, "mV")
    assert readable_units("nA µm", 5e4) == (pytest.approx(1e-3), "µA µm")
    assert readable_units("mV", 0.0) == (1.0, "mV")
    assert [nice_number(v) for v in (0.73, 7.3, 1.0, 0.0)] == [0.5, 5.0, 1.0, 1.0]


# ------------------------------------------------------------------ what a user expects


def depth_traces(ax) -> list:
    """The depth traces of one panel, highest contact first: (n_tau, 2) arrays of
    (tau, drawn y), from the panel's one collection of traces."""
    (traces,) = [c for c in ax.collections if c.get_label() == "traces"]
    return traces.get_segments()


def depth_gain(ax) -> float:
    """Gain (µm per displayed unit) of the depth traces of one panel: the largest
    deviation of any trace from its contact depth."""
    return max(float(np.max(np.abs(seg[:, 1] - seg[0, 1]))) for seg in depth_traces(ax))


def test_figures_go_through_pyplot():
    """plt.show() and Jupyter's inline backend see the figures: they are pyplot's."""
    H = fake_kernels()
    fig = H.xk.plot()
    assert isinstance(fig, XkFigure) and fig.number in plt.get_fignums()
    plt.close(fig)
    assert plt.get_fignums() == []


def test_ipython_display_once(monkeypatch):
    """With the inline backend the figure shows itself as a PNG and leaves pyplot, so
    that pyplot's end-of-cell display does not show it again; other backends: text."""
    import IPython.display
    import matplotlib

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    fig = fake_kernels().sel(X="E", Y="E").xk.plot(probes=["cdm"])
    fig._ipython_display_()  # Agg: a plain figure's text, still pyplot's
    assert list(shown[0]) == ["text/plain"] and fig.number in plt.get_fignums()
    monkeypatch.setattr(matplotlib, "get_backend",
                        lambda: "module://matplotlib_inline.backend_inline")
    fig._ipython_display_()
    assert shown[1]["image/png"][:4] == b"\x89PNG"
    assert plt.get_fignums() == []  # pyplot will not show it a second time


@pytest.mark.parametrize("select, titles", [
    (lambda H: H.sel(X="E"), {"E → E  (cdm)", "E → I  (lfp)"}),
    (lambda H: H.sum("X"), {"ΣX → E  (cdm)", "ΣX → I  (eeg)"}),
    (lambda H: H.sel(X="I", Y="E").xk.probe("lfp"), {"I → E  (lfp)"}),
    (lambda H: H.sel(X="I", Y="E", probe_channel="cdm:z"), {"I → E  (cdm)"}),
    (lambda H: H.mean(("X", "Y")).xk.probe("eeg"), {"ΣX → ΣY  (eeg)"}),
])
def test_plot_any_selection(select, titles):
    fig = select(fake_kernels()).xk.plot()
    drawn = {ax.get_title() for ax in fig.axes if ax.get_title()}
    assert titles <= drawn
    assert all("E" in t or "Σ" in t or "I" in t for t in drawn)


def test_plot_selected_channel_is_the_data():
    H = fake_kernels()
    fig = H.sel(X="I", Y="E", probe_channel="cdm:z").xk.plot()
    (ax,) = fig.axes
    line = next(ln for ln in ax.get_lines() if len(ln.get_xdata()) == H.sizes["tau"])
    expected = H.sel(X="I", Y="E", probe_channel="cdm:z").values
    np.testing.assert_allclose(line.get_ydata(), expected)  # nA µm shown unscaled


def test_hand_made_kernels_and_signals_plot():
    """Arrays without channel coordinates: one probe named after the array, a.u."""
    H = fake_kernels()
    bare = xr.DataArray(H.values, dims=H.dims, coords={"tau": H.tau.values}, name="mine")
    fig = bare.xk.plot()
    assert {ax.get_title() for ax in fig.axes} == {
        f"X[{x}] → Y[{y}]  (mine)" for x in (0, 1) for y in (0, 1)}
    assert any(ax.get_ylabel() == "mine (a.u.)" for ax in fig.axes)
    sig = xr.DataArray(np.random.default_rng(0).normal(size=(2, 500)),
                       dims=("probe_channel", "time"), coords={"time": np.arange(500.0)})
    fig = sig.xk.plot()
    assert [ax.get_title() for ax in fig.axes] == ["signals (mean removed)"]


def test_scale_panel_gives_every_panel_its_own_gain():
    H = fake_kernels()
    shared = plot(H, probes=["lfp"])
    own = plot(H, probes=["lfp"], scale="panel")

    def gains(fig):
        return {ax.get_title(): depth_gain(ax) for ax in fig.axes if ax.get_title()}

    g_shared, g_own = gains(shared), gains(own)
    # fake kernels: I -> E is half E -> E; a shared scale draws it half as large,
    # per-panel scaling draws both to the same height
    assert g_shared["I → E  (lfp)"] == pytest.approx(g_shared["E → E  (lfp)"] / 2, rel=1e-6)
    assert g_own["I → E  (lfp)"] == pytest.approx(g_own["E → E  (lfp)"], rel=1e-6)
    bars = [t.get_text() for ax in own.axes for t in ax.texts]
    assert len(bars) == 4  # a scale bar in every panel


def test_ax_and_fig_arguments():
    H = fake_kernels()
    fig, axes = plt.subplots(1, 2)
    out = H.sel(Y="E").xk.probe("cdm").xk.plot(ax=axes)
    assert out is fig and [a.get_title() for a in axes] == ["E → E  (cdm)", "I → E  (cdm)"]
    fig, ax = plt.subplots()
    assert H.sel(X="E", Y="I").xk.probe("eeg").xk.plot(ax=ax) is fig
    with pytest.raises(ValueError, match="ax must hold one Axes per panel: this kernels "
                                         "figure has 12 panels, got 1"):
        H.xk.plot(ax=ax)
    target = plt.figure()
    assert H.xk.plot(fig=target, probes=["cdm"]) is target and len(target.axes) == 4
    with pytest.raises(ValueError, match="fig already has 4 Axes"):
        H.xk.plot(fig=target)
    with pytest.raises(ValueError, match="pass fig= or ax=, not both"):
        H.xk.plot(fig=plt.figure(), ax=ax)
    sub = plt.figure().subfigures(1, 2)
    H.sel(X="E", Y="E").xk.plot(fig=sub[0], probes=["cdm"])
    assert len(sub[0].axes) == 1


def test_rates_plot():
    rng = np.random.default_rng(2)
    time = np.arange(3200) * 0.0625
    rates = xr.DataArray(rng.poisson(3.0, (2, time.size)).astype(float), dims=("X", "time"),
                         coords={"X": ["E", "I"], "time": time})
    fig = rates.xk.plot()
    (ax,) = fig.axes
    assert ax.get_ylabel() == "spikes/ms" and len(ax.get_lines()) == 2
    per_ms = ax.get_lines()[0].get_ydata()
    np.testing.assert_allclose(per_ms[0], rates.values[0, :16].sum())  # 16 bins = 1 ms
