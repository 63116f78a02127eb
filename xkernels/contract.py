"""The kernels data contract: names, checks and small helpers shared by every module.

A kernels DataArray (name ``kernels``) has dims ``(..., X, Y, probe_channel, tau)``:

* ``X``, ``Y`` -- presynaptic / postsynaptic population names (str)
* ``probe_channel`` -- unique str labels of every output channel of every probe,
  with non-dimension coordinates ``probe`` (str), ``units`` (str) and ``x``, ``y``,
  ``z`` (float, µm, NaN where meaningless)
* ``tau`` -- time lag after the presynaptic spike (ms), regular spacing ``dt``

Any leading dims are sweep parameters.  Attributes carry provenance (see
:data:`REQUIRED_ATTRS`); kernels computed by the engine also carry a digest of their
values (:data:`VALUES_DIGEST_ATTR`, :func:`values_digest`), which stores compare with
what they write to tell computed kernels from derived ones (:data:`PROVENANCE_ATTR`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

KERNEL_NAME = "kernels"
CORE_DIMS = ("X", "Y", "probe_channel", "tau")
CHANNEL_COORDS = ("probe", "units", "x", "y", "z")
#: Units of the channel position coordinates ``x``, ``y``, ``z``.
POSITION_UNITS = "µm"
FORMAT_VERSION = 1
REQUIRED_ATTRS = ("dt", "t_X", "g_eff", "spec", "probes", "content_hash", "versions")
TAU_RTOL = 1e-9
#: XXH3-128 of the values (:func:`values_digest`): set by the engine on the kernels it
#: computes, recorded by kernel stores for what they hold.
VALUES_DIGEST_ATTR = "values_xxh3_128"
#: In a kernel store: ``"computed"`` when its values are the kernels its provenance
#: (content hash) describes, as computed; ``"derived"`` otherwise (scaled, subset, made
#: by hand): such a store is never served as computed kernels.
PROVENANCE_ATTR = "provenance"
COMPUTED = "computed"
DERIVED = "derived"


def values_digest(values) -> str:
    """XXH3-128 (``xxhash``) of an array's values: shape, then the float64 little-endian
    bytes in C order.

    A checksum, not a cryptographic hash: it tells computed values from values changed
    since (by a user, a bug or on disk), at memory speed (2 ms for the microcircuit's
    30 MB of kernels, where SHA-256 took 40 ms); it does not resist a forger.

    Parameters
    ----------
    values : array_like
        A numpy or dask array (dask: computed one slice of the first axis at a time).

    Returns
    -------
    str
        32 hex digits; equal for equal values (as float64) of equal shape.

    Examples
    --------
    >>> values_digest(np.zeros(3)) == values_digest(np.zeros(3, dtype=np.float32))
    True
    >>> values_digest(np.zeros(3)) == values_digest(np.zeros((1, 3)))
    False
    """
    import xxhash

    shape = tuple(int(n) for n in np.shape(values))
    h = xxhash.xxh3_128(repr(shape).encode())
    lazy = hasattr(values, "dask")
    parts = (values[i] for i in range(shape[0])) if lazy and shape else (values,)
    for part in parts:
        part = np.asarray(part.compute() if lazy else part)
        h.update(np.ascontiguousarray(part, dtype="<f8"))  # its buffer: no copy
    return h.hexdigest()


def channel_coords(
    probe: str,
    labels: list[str],
    units: str | list[str],
    x=None,
    y=None,
    z=None,
) -> dict[str, tuple]:
    """Build the ``probe_channel`` coordinates of one probe.

    Parameters
    ----------
    probe : str
        Probe name, e.g. ``"lfp"``.
    labels : list of str
        Channel labels, unique over all probes (e.g. ``"lfp:0"``).
    units : str or list of str
        Physical units of every channel (``"mV"``, ``"nA µm"``, ...).
    x, y, z : array_like or None
        Channel positions (µm); ``None`` means NaN (no position).

    Returns
    -------
    dict
        Mapping coordinate name -> ``("probe_channel", values, attrs)``; the positions
        carry ``attrs = {"units": "µm"}``.
    """
    n = len(labels)

    def _pos(v):
        if v is None:
            return np.full(n, np.nan)
        arr = np.asarray(v, dtype=float).reshape(-1)
        if arr.size != n:
            raise ValueError(f"channel position of probe {probe!r} has {arr.size} values, "
                             f"expected {n}")
        return arr

    unit_list = [units] * n if isinstance(units, str) else list(units)
    return {
        "probe_channel": ("probe_channel", np.asarray(labels, dtype=str)),
        "probe": ("probe_channel", np.asarray([probe] * n, dtype=str)),
        "units": ("probe_channel", np.asarray(unit_list, dtype=str)),
        **{name: ("probe_channel", _pos(v), {"units": POSITION_UNITS})
           for name, v in (("x", x), ("y", y), ("z", z))},
    }


def regular_spacing(values: np.ndarray, name: str, rtol: float = TAU_RTOL,
                    block: int = 2 ** 20) -> float:
    """Return the spacing of a regular 1-D axis or raise ``ValueError``.

    Parameters
    ----------
    values : ndarray
        Axis coordinate values.
    name : str
        Name of the axis, for the error message.
    rtol : float
        Relative tolerance on every step against the mean step.
    block : int
        Steps checked per block (bounds temporary memory on long axes).

    Returns
    -------
    float
        The spacing (same units as ``values``).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"{name} must be a 1-D axis with at least 2 values, "
                         f"got shape {values.shape}")
    step = (values[-1] - values[0]) / (values.size - 1)
    # in blocks: an hour at dt = 1/16 ms is 57.6 M values, temporaries stay bounded
    for start in range(0, values.size - 1, block):
        steps = np.diff(values[start:start + block + 1])
        if step <= 0 or not np.allclose(steps, step, rtol=rtol, atol=abs(step) * rtol):
            raise ValueError(f"{name} must be regularly spaced and increasing; steps from "
                             f"index {start} range from {steps.min()!r} to {steps.max()!r}, "
                             f"{step!r} on average")
    return float(step)


def check_kernels(H: xr.DataArray, *, require_attrs: bool = True) -> None:
    """Check that ``H`` honours the kernels data contract.

    Parameters
    ----------
    H : xarray.DataArray
        Candidate kernels.
    require_attrs : bool
        Also require the provenance attributes of :data:`REQUIRED_ATTRS`.

    Raises
    ------
    TypeError
        If ``H`` is not a DataArray.
    ValueError
        Naming the first broken part of the contract.

    Examples
    --------
    >>> import xkernels
    >>> H = xkernels.compute_kernels(xkernels.Network.example(),
    ...                              {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5.)
    >>> check_kernels(H)
    >>> check_kernels(H.rename(tau="lag"))
    Traceback (most recent call last):
    ...
    ValueError: ...
    """
    if not isinstance(H, xr.DataArray):
        raise TypeError(f"kernels must be an xarray.DataArray, got {type(H).__name__}")
    if tuple(H.dims[-4:]) != CORE_DIMS:
        raise ValueError(f"kernels dims must end with {CORE_DIMS}, got {H.dims}")
    for dim in CORE_DIMS:
        if dim not in H.coords:
            raise ValueError(f"kernels is missing the {dim!r} coordinate")
    for name in CHANNEL_COORDS:
        if name not in H.coords:
            raise ValueError(f"kernels is missing the probe_channel coordinate {name!r} "
                             f"(required: {CHANNEL_COORDS})")
        if H.coords[name].dims != ("probe_channel",):
            raise ValueError(f"coordinate {name!r} must have dims ('probe_channel',), "
                             f"got {H.coords[name].dims}")
    labels = H.coords["probe_channel"].values
    if len(set(labels.tolist())) != labels.size:
        raise ValueError("probe_channel labels must be unique")
    if any(str(u) == "" for u in H.coords["units"].values):
        raise ValueError("every probe_channel needs non-empty units")
    for dim in ("X", "Y"):
        vals = H.coords[dim].values.tolist()
        if len(set(vals)) != len(vals):
            raise ValueError(f"{dim} labels must be unique, got {vals}")
    regular_spacing(H.coords["tau"].values, "kernels tau coordinate")
    if require_attrs:
        missing = [a for a in REQUIRED_ATTRS if a not in H.attrs]
        if missing:
            raise ValueError(f"kernels attrs lack provenance fields {missing}")


def select_probe(H: xr.DataArray, probe: str) -> xr.DataArray:
    """Return the part of ``H`` that belongs to one probe.

    Parameters
    ----------
    H : xarray.DataArray
        Kernels or signals with a ``probe_channel`` dim and ``probe`` coordinate.
    probe : str
        Probe name.

    Returns
    -------
    xarray.DataArray

    Examples
    --------
    >>> import xkernels
    >>> H = xkernels.compute_kernels(xkernels.Network.example(),
    ...                              {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5.)
    >>> select_probe(H, "cdm").sizes["probe_channel"]
    1
    >>> select_probe(H, "eeg")
    Traceback (most recent call last):
    ...
    ValueError: probe 'eeg' not found; available probes: ['cdm']
    """
    names = probe_names(H)
    if probe not in names:
        raise ValueError(f"probe {probe!r} not found; available probes: {names}")
    return H.isel(probe_channel=np.flatnonzero(H.coords["probe"].values == probe))


def probe_names(obj: xr.DataArray | xr.Dataset) -> list[str]:
    """Probe names in channel order."""
    return list(dict.fromkeys(obj.coords["probe"].values.tolist()))


def selected_probes(obj: xr.DataArray | xr.Dataset, probes: list[str] | str | None) -> list[str]:
    """Names of the probes to draw (all, in channel order, if ``probes`` is None)."""
    names = probe_names(obj)
    if probes is None:
        return names
    if isinstance(probes, str):
        probes = [probes]
    unknown = [p for p in probes if p not in names]
    if unknown:
        raise ValueError(f"probes {unknown} not found; available probes: {names}")
    return list(probes)


def strings_as_objects(values: np.ndarray) -> np.ndarray:
    """Str values as an object array (written as Zarr variable-length strings)."""
    return np.asarray(values.tolist(), dtype=object).reshape(values.shape)
