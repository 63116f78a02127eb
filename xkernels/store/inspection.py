"""A human-readable summary of a kernel store (``xkernels info PATH``)."""

from __future__ import annotations

import os

import numpy as np

from xkernels.contract import CORE_DIMS, probe_names, select_probe
from xkernels.store.attrs import parse_json_attr
from xkernels.store.reading import as_path, read_done, stored_kernels


def _disk_size(path: os.PathLike) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path)
               for f in files)


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _values_text(values: np.ndarray) -> str:
    items = values.tolist()
    if len(items) <= 6:
        return ", ".join(str(v) for v in items)
    return f"{items[0]} .. {items[-1]} ({len(items)} values)"


def describe(path: str | os.PathLike) -> str:
    """Human-readable summary of a kernel store (like ``xkernels info PATH``).

    Parameters
    ----------
    path : str or os.PathLike
        Kernel store.

    Returns
    -------
    str
        Populations, probes (channels, units), dt (ms), tau range (ms), t_X (ms),
        g_eff, sweep dims and completion, content hash, versions, format version and
        size on disk (B, KiB, MiB, GiB).

    Examples
    --------
    >>> import xkernels
    >>> H = xkernels.compute_kernels(xkernels.Network.example(),
    ...                              {"cdm": xkernels.CurrentDipoleMomentZ()}, tau=5.)
    >>> xkernels.write_kernels(H, "kernels.zarr")
    >>> print(describe("kernels.zarr"))  # doctest: +ELLIPSIS
    xkernels kernel store ...kernels.zarr
      populations X (presynaptic): E, I
    ...
    """
    path = as_path(path)
    H = stored_kernels(path)
    attrs = H.attrs
    done = read_done(path)
    tau = H.coords["tau"].values
    lines = [f"xkernels kernel store {path}",
             f"  populations X (presynaptic): {', '.join(H.coords['X'].values.tolist())}",
             f"  populations Y (postsynaptic): {', '.join(H.coords['Y'].values.tolist())}",
             "  probes:"]
    for name in probe_names(H):
        part = select_probe(H, name)
        units = ", ".join(dict.fromkeys(part.coords["units"].values.tolist()))
        labels = part.coords["probe_channel"].values.tolist()
        shown = ", ".join(labels[:4]) + (", ..." if len(labels) > 4 else "")
        lines.append(f"    {name}: {len(labels)} channels [{units}] ({shown})")
    lines += [f"  dt: {attrs.get('dt')} ms",
              f"  tau: {tau[0]:g} .. {tau[-1]:g} ms ({tau.size} samples)",
              f"  t_X: {attrs.get('t_X')} ms",
              f"  g_eff: {attrs.get('g_eff')}"]
    if "fir" in attrs:
        lines.append(f"  fir: {attrs['fir']}")
    if "averaging" in attrs:
        nodes = f" ({attrs['depth_nodes']} depth nodes)" if "depth_nodes" in attrs else ""
        lines.append(f"  averaging: {attrs['averaging']}{nodes}")
    sweep_dims = H.dims[:-len(CORE_DIMS)]
    if sweep_dims:
        paths = parse_json_attr(attrs.get("sweep_paths", "{}"))
        paths = paths if isinstance(paths, dict) else {}
        lines.append("  sweep:")
        for dim in sweep_dims:
            where = f" -> {paths[dim]}" if dim in paths else ""
            lines.append(f"    {dim}{where}: {_values_text(H.coords[dim].values)}")
        lines.append(f"  completed points: {int(done.sum())} of {done.size}")
    else:
        lines.append("  sweep: none")
    versions = parse_json_attr(attrs.get("versions", "{}"))
    if isinstance(versions, dict):
        versions = ", ".join(f"{k} {v}" for k, v in versions.items())
    lines += [f"  shape: {dict(H.sizes)} {H.dtype}",
              f"  content hash: {attrs.get('content_hash')}",
              f"  provenance: {attrs.get('provenance', 'not recorded')}"
              + (f" (derived from {attrs['derived_from']})" if attrs.get("derived_from")
                 else ""),
              f"  engine version: {attrs.get('engine_version', 'not recorded')}",
              f"  versions: {versions}",
              f"  format version: {attrs.get('format_version')}",
              f"  size on disk: {_human_bytes(_disk_size(path))}"]
    return "\n".join(lines)
