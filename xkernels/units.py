"""Channel units: xkernels' own (mV, nA µm, nA/µm) and the SI units other tools use.

Kernels and signals carry the units of every channel in their ``units`` coordinate
(DESIGN: mV, nA µm, nA/µm).  MNE, NWB and hnn-core think in volts, A·m (or nA·m) and
tesla: :func:`convert_units` rescales the channels of chosen probes (or of all) and
rewrites their ``units`` in one call, ``signals.xk.to_units({"cdm": "nA m"})``.

Magnetic channels: xkernels' MEG probe gives the field H (nA/µm); MEG tools use the
flux density B in tesla.  Outside magnetic materials B = µ0 H, so H and B convert into
each other with the vacuum permeability µ0 (:data:`MU0`, T m/A).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from xkernels.checks import did_you_mean

__all__ = ["canonical_unit", "convert_units", "si_unit", "si_values", "unit_factor"]

#: Vacuum permeability µ0 (T m / A), the exact pre-2019 value (within 1e-9 of CODATA).
MU0 = 4e-7 * math.pi

#: unit -> (quantity, factor to the quantity's SI unit)
UNITS: dict[str, tuple[str, float]] = {
    "V": ("potential", 1.0), "mV": ("potential", 1e-3), "µV": ("potential", 1e-6),
    "nV": ("potential", 1e-9),
    "A m": ("dipole", 1.0), "mA m": ("dipole", 1e-3), "µA m": ("dipole", 1e-6),
    "nA m": ("dipole", 1e-9), "nA µm": ("dipole", 1e-15), "pA m": ("dipole", 1e-12),
    "A/m": ("field", 1.0), "nA/µm": ("field", 1e-3),
    "T": ("field", 1.0 / MU0), "nT": ("field", 1e-9 / MU0), "pT": ("field", 1e-12 / MU0),
    "fT": ("field", 1e-15 / MU0),
}
#: SI unit of each quantity (what ``"SI"`` converts to); magnetic channels go to tesla
SI_UNITS = {"potential": "V", "dipole": "A m", "field": "T"}


def canonical_unit(units: str) -> str:
    """A unit in the spelling of :data:`UNITS` (``u``/Greek mu for µ, ``*`` or ``·``
    for a space).

    Parameters
    ----------
    units : str
        A unit, e.g. ``"nA*m"``, ``"uV"``, ``"nA μm"``.

    Returns
    -------
    str
        The spelling used in :data:`UNITS`.

    Raises
    ------
    ValueError
        An unknown unit, with the known ones (and a "did you mean").

    Examples
    --------
    >>> canonical_unit("nA*m"), canonical_unit("uV"), canonical_unit("A·m")
    ('nA m', 'µV', 'A m')
    """
    if not isinstance(units, str):
        raise TypeError(f"units must be a str, got {type(units).__name__}")
    text = " ".join(units.replace("*", " ").replace("·", " ").split())
    text = re.sub(r"(^|[\s/])u(?=[VAmT])", r"\1µ", text.replace("μ", "µ"))
    if text not in UNITS:
        raise ValueError(f"units {units!r} is not known; allowed: {sorted(UNITS)}"
                         f"{did_you_mean(text, UNITS)}")
    return text


def unit_factor(source: str, target: str) -> float:
    """Factor taking values in ``source`` units to ``target`` units.

    Parameters
    ----------
    source, target : str
        Units of one quantity (potential, dipole moment or magnetic field).

    Returns
    -------
    float
        Multiply values in ``source`` by it to get ``target``.

    Raises
    ------
    ValueError
        Unknown units, or units of different quantities.

    Examples
    --------
    >>> unit_factor("nA µm", "nA m"), unit_factor("mV", "V")
    (1e-06, 0.001)
    >>> round(unit_factor("nA/µm", "fT"), 3)   # B = µ0 H
    1256637.061
    """
    (q_from, f_from), (q_to, f_to) = UNITS[canonical_unit(source)], UNITS[canonical_unit(target)]
    if q_from != q_to:
        raise ValueError(f"cannot convert {source!r} ({q_from}) to {target!r} ({q_to})")
    return f_from / f_to


def si_unit(units: str) -> str:
    """The SI unit of the quantity measured in ``units`` (V, A m or T).

    Parameters
    ----------
    units : str
        A unit of :data:`UNITS`.

    Returns
    -------
    str
        ``"V"``, ``"A m"`` or ``"T"``.

    Examples
    --------
    >>> si_unit("mV"), si_unit("nA µm"), si_unit("nA/µm")
    ('V', 'A m', 'T')
    """
    return SI_UNITS[UNITS[canonical_unit(units)][0]]


def convert_units(data: xr.DataArray, units: str | Mapping[str, str] = "SI"
                  ) -> xr.DataArray:
    """Kernels or signals with channels rescaled to other units.

    Parameters
    ----------
    data : xarray.DataArray
        Kernels or signals: a ``probe_channel`` dim with ``probe`` and ``units``
        coordinates.
    units : str or mapping of str to str
        ``"SI"``: every channel to the SI unit of its quantity (V, A m, T); one unit
        (e.g. ``"nA m"``): every channel (all must measure that quantity); a mapping
        probe name -> unit (or ``"SI"``): those probes' channels, the others as they
        are.

    Returns
    -------
    xarray.DataArray
        The same array (lazy stays lazy) with the channels multiplied by their factors
        and the ``units`` coordinate rewritten.  Value provenance of kernels
        (``content_hash``, ``values_xxh3_128``) does not describe rescaled values: those
        attributes are dropped and ``converted_units`` records what was done.

    Raises
    ------
    ValueError
        Before anything is computed: no ``probe_channel``/``units``/``probe``
        coordinates, a probe name not in ``data`` (with "did you mean"), unknown units,
        or units of another quantity than the channels'.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from xkernels.contract import channel_coords
    >>> from xkernels.provenance import merge_channel_coords
    >>> coords = merge_channel_coords([channel_coords("cdm", ["cdm:z"], "nA µm"),
    ...                                channel_coords("lfp", ["lfp:0"], "mV")])
    >>> s = xr.DataArray([[2e6], [0.5]], dims=("probe_channel", "time"), coords=coords)
    >>> out = convert_units(s, {"cdm": "nA m"})
    >>> out.values.ravel().tolist(), out.units.values.tolist()
    ([2.0, 0.5], ['nA m', 'mV'])
    >>> convert_units(s).units.values.tolist()           # all to SI
    ['A m', 'V']
    """
    if not isinstance(data, xr.DataArray) or "probe_channel" not in data.dims \
            or not {"units", "probe"} <= set(data.coords):
        raise ValueError("convert_units needs kernels or signals: a DataArray with a "
                         "'probe_channel' dim and 'probe' and 'units' coordinates")
    probes = [str(p) for p in data.coords["probe"].values]
    current = [str(u) for u in data.coords["units"].values]
    if isinstance(units, Mapping):
        known = list(dict.fromkeys(probes))
        for name in units:
            if name not in known:
                raise ValueError(f"units names probe {name!r}, which is not in the data; "
                                 f"probes: {known}{did_you_mean(name, known)}")
        wanted = [units.get(p) for p in probes]
    elif isinstance(units, str):
        wanted = [units] * len(probes)
    else:
        raise TypeError(f"units must be 'SI', a unit or a mapping probe -> unit, got "
                        f"{type(units).__name__}")
    factors = np.ones(len(probes))
    new = list(current)
    for i, (unit, target) in enumerate(zip(current, wanted)):
        if target is None:
            continue
        target = si_unit(unit) if target == "SI" else canonical_unit(target)
        try:
            factors[i] = unit_factor(unit, target)
        except ValueError as err:
            raise ValueError(f"channel {str(data.probe_channel.values[i])!r} of probe "
                             f"{probes[i]!r}: {err}") from None
        new[i] = target
    scale = xr.DataArray(factors, dims="probe_channel")
    out = (data * scale).assign_coords(units=("probe_channel", np.asarray(new, dtype=str)))
    out.name = data.name
    attrs = {k: v for k, v in data.attrs.items()
             if k not in ("content_hash", "values_xxh3_128", "units")}
    units_now = list(dict.fromkeys(out.coords["units"].values.tolist()))
    if len(units_now) == 1:
        attrs["units"] = units_now[0]
    attrs["converted_units"] = ", ".join(
        f"{c}: {u} -> {n}" for c, u, n in zip(data.probe_channel.values.tolist(),
                                              current, new) if u != n)
    out.attrs = attrs
    return out


def si_values(data: Any) -> tuple[np.ndarray, list[str]]:
    """Per-channel SI factors and units of kernels or signals (for the writers).

    Parameters
    ----------
    data : xarray.DataArray
        With a ``units`` coordinate along ``probe_channel``.

    Returns
    -------
    factors : ndarray
        Multiply each channel by its factor to get SI values.
    units : list of str
        The SI unit of each channel.

    Examples
    --------
    >>> import xarray as xr
    >>> s = xr.DataArray([[1.0]], dims=("probe_channel", "time"),
    ...                  coords={"units": ("probe_channel", ["mV"])})
    >>> si_values(s)
    (array([0.001]), ['V'])
    """
    current = [str(u) for u in data.coords["units"].values]
    targets = [si_unit(u) for u in current]
    return np.array([unit_factor(u, t) for u, t in zip(current, targets)]), targets
