"""Provenance: versions, content hashes, channel coordinates, and what a store may hold.

One home for what every result records about where it came from (kernels, sweeps,
hybrid ground truths), and for the one policy of every store (the kernel cache, sweep
stores, hybrid stores): **a store never holds or serves values of inputs it cannot
describe**.  A probe whose definition cannot be written (a user's
``lfpykit.LinearModel`` subclass without a probe kind) enters a content hash without
its parameters, so a changed probe would hash the same and a store would serve stale
values; :func:`require_described` refuses it before anything is read or written.

What a kernel store vouches for: :func:`xkernels.store.write_kernels` records with
the kernels it writes

* ``values_xxh3_128`` -- the digest of the values written
  (:func:`xkernels.contract.values_digest`);
* ``provenance`` -- ``"computed"`` when the kernels carry the digest the engine gave
  them and their values still have it (unchanged since computed, or read back from a
  computed store): they are the kernels their ``content_hash`` describes;
  ``"derived"`` otherwise (scaled, a subset of channels or lags, hand-made), with the
  content hash they came from kept as ``derived_from`` and ``content_hash`` marked
  ``derived:<hash>`` so that it matches no computation.

:func:`unvouched` tells the cache (:func:`xkernels.store.compute_kernels`) why a store
must not be served as computed kernels.  Sweep stores carry neither attribute: their
points are checked against the sweep's template instead.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import xarray as xr

from xkernels.contract import (
    COMPUTED,
    DERIVED,
    PROVENANCE_ATTR,
    VALUES_DIGEST_ATTR,
    values_digest,
)

#: The installed version of xkernels (its one source: the package metadata, which
#: ``pyproject.toml`` sets).
XKERNELS_VERSION = version("xkernels")


@functools.lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """Versions of xkernels, NEURON, LFPy and LFPykit (``"unknown"`` if not installed).

    Returns
    -------
    dict of str to str

    Examples
    --------
    >>> sorted(versions())
    ['LFPy', 'LFPykit', 'neuron', 'xkernels']
    """
    out = {"xkernels": XKERNELS_VERSION}
    for dist in ("neuron", "LFPy", "LFPykit"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "unknown"
    return out


def content_hash(payload: Mapping[str, Any], texts: Mapping[str, str] | None = None) -> str:
    """SHA-256 of the canonical JSON of everything a result depends on.

    Parameters
    ----------
    payload : Mapping[str, Any]
        JSON-serialisable description (keys sorted, no NaN).
    texts : Mapping[str, str], optional
        The canonical JSON (``json.dumps(value, sort_keys=True, separators=(",",
        ":"))``) of some of ``payload``'s values, by key, already written: used as
        they are (the same hash).

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> content_hash({"b": 1, "a": [0.5]}) == content_hash({"a": [0.5], "b": 1})
    True
    """
    text = None
    if texts:
        # the payload written once with a marker for each text, the texts put in their
        # place (unless a marker's JSON occurs elsewhere in the payload)
        markers = {key: f"\x00xkernels text of {key}\x00" for key in texts
                   if key in payload}
        text = _canonical({**payload, **markers})
        for key, marker in markers.items():
            written = json.dumps(marker)
            if text.count(written) != 1:
                text = None
                break
            text = text.replace(written, texts[key])
    if text is None:
        text = _canonical(payload)
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)


def merge_channel_coords(metas: list[dict]) -> dict[str, tuple]:
    """The ``probe_channel`` coordinates of several probes, concatenated in order.

    Parameters
    ----------
    metas : list of dict
        Per probe, :func:`xkernels.probes.probe_channels` output: name ->
        ``(dim, values[, attrs])``.  Attributes (``units: µm`` of x, y, z) are kept.

    Returns
    -------
    dict
        Name -> ``("probe_channel", values, attrs)``.

    Raises
    ------
    ValueError
        Channel labels repeated across probes.

    Examples
    --------
    >>> from xkernels.contract import channel_coords
    >>> merged = merge_channel_coords([channel_coords("a", ["a:0"], "mV", z=[0.0]),
    ...                                channel_coords("b", ["b:0"], "mV", z=[100.0])])
    >>> merged["z"][1].tolist(), merged["z"][2]
    ([0.0, 100.0], {'units': 'µm'})
    """
    out: dict[str, tuple] = {}
    for key in metas[0]:
        attrs = next((dict(m[key][2]) for m in metas if len(m[key]) > 2 and m[key][2]), {})
        out[key] = ("probe_channel", np.concatenate([m[key][1] for m in metas]), attrs)
    labels = out["probe_channel"][1].tolist()
    dupes = sorted({v for v in labels if labels.count(v) > 1})
    if dupes:
        raise ValueError(f"probe channel labels must be unique; duplicated: {dupes}")
    return out


def undescribed(definitions: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The probes of ``definitions`` that have no definition, with the reason.

    Parameters
    ----------
    definitions : Mapping[str, Mapping]
        Probe name -> definition (:func:`xkernels.probes.probe_definitions`):
        ``params`` None marks a probe that cannot be described, ``why`` says why.

    Returns
    -------
    dict of str to str
        Probe name -> reason, in probe order (empty when every probe is described).
    """
    return {name: f"{d.get('class')}: {d.get('why', 'no definition')}"
            for name, d in definitions.items() if d.get("params") is None}


def require_described(definitions: Mapping[str, Mapping[str, Any]], where: str) -> None:
    """Refuse to store (or serve from a store) values of probes that cannot be described.

    Parameters
    ----------
    definitions : Mapping[str, Mapping]
        Probe name -> definition, as for :func:`undescribed`.
    where : str
        The store, for the message (``"sweep store '/data/s.zarr'"``).

    Raises
    ------
    ValueError
        Naming every such probe, its class and why it has no definition.

    Examples
    --------
    >>> require_described({"cdm": {"class": "xkernels.probes.CurrentDipoleMomentZ",
    ...                             "params": {"components": "z"}}}, "store 'k.zarr'")
    >>> require_described({"mine": {"class": "my.Probe", "params": None,
    ...                             "why": "no probe kind describes it"}}, "store 'k.zarr'")
    Traceback (most recent call last):
    ...
    ValueError: store 'k.zarr' cannot hold values of probes it cannot describe: probes['mine']
    (my.Probe: no probe kind describes it); its parameters could not enter the content hash,
    so a changed probe would be served stale values.  Compute without a store, or register
    a probe kind for its class (xkernels.probes.register)
    """
    missing = undescribed(definitions)
    if missing:
        listed = "; ".join(f"probes[{name!r}] ({why})" for name, why in missing.items())
        raise ValueError(f"{where} cannot hold values of probes it cannot describe: {listed}; "
                         "its parameters could not enter the content hash, so a changed "
                         "probe would be served stale values.  Compute without a store, or "
                         "register a probe kind for its class (xkernels.probes.register)")


def require_described_json(probes_attr: Any, where: str) -> None:
    """:func:`require_described` for the ``probes`` attribute of stored results (JSON).

    Parameters
    ----------
    probes_attr : str or None
        JSON of probe name -> definition (a list of ``[name, definition]`` pairs is
        accepted too); None when the result records no probes.
    where : str
        The store, for the message.
    """
    if probes_attr is None:
        return
    parsed = json.loads(probes_attr) if isinstance(probes_attr, str) else probes_attr
    require_described(dict(parsed), where)


#: Attribute keeping the content hash a derived array came from.
DERIVED_FROM_ATTR = "derived_from"
#: Prefix of the ``content_hash`` of a derived store (never a computation's hash).
DERIVED_PREFIX = "derived:"
#: Attributes that describe one array's values, not a computation (a sweep template
#: and its points never carry them).
VALUE_ATTRS = (VALUES_DIGEST_ATTR, PROVENANCE_ATTR, DERIVED_FROM_ATTR)


def stamped_attrs(H: xr.DataArray) -> dict[str, Any]:
    """``H.attrs`` with the digest of ``H``'s values and their provenance set.

    Parameters
    ----------
    H : xarray.DataArray
        Kernels about to be written (numpy- or dask-backed; dask values are read once
        more for the digest).

    Returns
    -------
    dict
        Attributes to store.
    """
    attrs = dict(H.attrs)
    digest = values_digest(H.data)
    claimed = attrs.get(VALUES_DIGEST_ATTR)
    computed = (claimed == digest and attrs.get(PROVENANCE_ATTR, COMPUTED) == COMPUTED
                and not str(attrs.get("content_hash", "")).startswith(DERIVED_PREFIX))
    if not computed:
        if attrs.get(PROVENANCE_ATTR) != DERIVED:
            attrs[DERIVED_FROM_ATTR] = attrs.get("content_hash")
        attrs["content_hash"] = f"{DERIVED_PREFIX}{digest}"
    attrs[VALUES_DIGEST_ATTR] = digest
    attrs[PROVENANCE_ATTR] = COMPUTED if computed else DERIVED
    return attrs


def without_value_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``attrs`` without :data:`VALUE_ATTRS` (for sweep templates and points)."""
    return {k: v for k, v in attrs.items() if k not in VALUE_ATTRS}


def unvouched(attrs: Mapping[str, Any], H: xr.DataArray | None = None) -> str | None:
    """Why a kernel store cannot be served as the kernels its provenance describes.

    Parameters
    ----------
    attrs : Mapping[str, Any]
        The store's kernel attributes.
    H : xarray.DataArray, optional
        Its values, loaded: their digest must be the one recorded.

    Returns
    -------
    str or None
        None when the store vouches for its values, else the reason (for messages).
    """
    provenance = attrs.get(PROVENANCE_ATTR)
    if provenance == DERIVED:
        return ("its kernels are derived (modified or selected after computing: "
                f"provenance {DERIVED!r}), not computed")
    if provenance != COMPUTED or VALUES_DIGEST_ATTR not in attrs:
        return "it records no provenance or digest of its values"
    if H is not None and values_digest(H.data) != attrs[VALUES_DIGEST_ATTR]:
        return ("its values do not match the digest recorded when it was written "
                "(modified on disk since)")
    return None
