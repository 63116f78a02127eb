"""What a kernel store vouches for: provenance and a digest of its values.

:func:`xkernels.store.write_kernels` records with the kernels it writes

* ``values_sha256`` -- the digest of the values written
  (:func:`xkernels.contract.values_digest`);
* ``provenance`` -- ``"computed"`` when the kernels carry the digest the engine gave
  them and their values still have it (unchanged since computed, or read back from a
  computed store): they are the kernels their ``content_hash`` describes;
  ``"derived"`` otherwise (scaled, a subset of channels or lags, hand-made, or from an
  xkernels without digests), with the content hash they came from kept as
  ``derived_from`` and ``content_hash`` marked ``derived:<hash>`` so that it matches no
  computation.

:func:`unvouched` tells the cache (:func:`xkernels.store.compute_kernels`) why a store
must not be served as computed kernels.  Sweep stores carry neither attribute: their
points are checked against the sweep's template instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import xarray as xr

from xkernels.contract import (
    COMPUTED,
    DERIVED,
    PROVENANCE_ATTR,
    VALUES_DIGEST_ATTR,
    values_digest,
)

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
