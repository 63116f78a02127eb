"""What attributes and strings look like in a store.

Provenance attributes are written as plain JSON (numbers finite, nested specifications
as JSON strings) and checked before anything reaches the disk.  Strings are stored as
Zarr's variable-length UTF-8 ``string`` type (zarr 3 warns that numpy's fixed-width
``<U`` type has no stable specification) and read back as ``<U``.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from xkernels.checks import check_bool, check_real, fail
from xkernels.contract import FORMAT_VERSION

#: Attributes holding a JSON document as a string.
JSON_STRING_ATTRS = ("spec", "probes", "versions", "Vrest", "sweep_paths")


def plain_json(value: Any, where: str) -> Any:
    """``value`` with numpy scalars and arrays turned into JSON types.

    Parameters
    ----------
    value : object
        Attribute value (nested lists and str-keyed dicts allowed).
    where : str
        Field name used in error messages, e.g. ``kernels.attrs['dt']``.

    Returns
    -------
    object
        The same value made of str, int, float, bool, None, list and dict only.

    Raises
    ------
    TypeError
        A value (or dict key) of a type JSON cannot hold.
    ValueError
        A NaN or infinite float (JSON has neither).
    """
    if isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            fail(where, value, "a finite number (JSON has no NaN/inf)")
        return value
    if isinstance(value, list):
        return [plain_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                fail(f"{where} keys", key, "str", TypeError)
            out[key] = plain_json(v, f"{where}[{key!r}]")
        return out
    fail(where, value, "JSON-compatible (str, int, float, bool, None, list, dict)", TypeError)


def checked_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise the provenance attributes of kernels to write.

    Parameters
    ----------
    attrs : mapping
        ``H.attrs`` of the kernels: ``dt``, ``t_X``, ``tau_max`` in ms, ``g_eff`` and
        ``fir`` bools, JSON strings (:data:`JSON_STRING_ATTRS`), ``content_hash``.

    Returns
    -------
    dict
        Plain-JSON attributes with ``format_version`` set.

    Raises
    ------
    TypeError, ValueError
        Naming the attribute, the value and what is allowed.
    """
    out = {key: plain_json(value, f"kernels.attrs[{key!r}]") for key, value in attrs.items()}
    for key in JSON_STRING_ATTRS:
        if key in out:
            if not isinstance(out[key], str):
                fail(f"kernels.attrs[{key!r}]", out[key], "a JSON string", TypeError)
            try:
                json.loads(out[key])
            except json.JSONDecodeError as err:
                raise ValueError(f"kernels.attrs[{key!r}] is not valid JSON: {err}") from None
    for key in ("dt", "t_X", "tau_max"):
        if key in out:
            check_real(f"kernels.attrs[{key!r}] (ms)", out[key])
    for key in ("g_eff", "fir"):
        if key in out:
            check_bool(f"kernels.attrs[{key!r}]", out[key])
    content_hash = out.get("content_hash")
    if content_hash is not None and not isinstance(content_hash, str):
        fail("kernels.attrs['content_hash']", content_hash, "a non-empty str", TypeError)
    if not content_hash:
        fail("kernels.attrs['content_hash']", content_hash, "a non-empty str")
    version = out.setdefault("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ValueError(f"kernels.attrs['format_version'] is {version!r}; this xkernels "
                         f"writes format version {FORMAT_VERSION} only")
    return out


def parse_json_attr(value: Any) -> Any:
    """The document in a JSON-string attribute; anything else is returned unchanged."""
    if isinstance(value, str) and value[:1] in "{[":
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(value)
    return value


def strings_as_unicode(values: np.ndarray) -> np.ndarray:
    """Object or ``StringDType`` str values as numpy ``<U`` (other dtypes unchanged)."""
    if values.dtype.kind in "OT":
        return np.asarray(values.tolist(), dtype=str).reshape(values.shape)
    return values


def restore_strings(da: xr.DataArray) -> xr.DataArray:
    """Load the coordinates of ``da`` and give str coordinates numpy's ``<U`` dtype."""
    new = {name: (coord.dims, strings_as_unicode(coord.values), coord.attrs)
           for name, coord in da.coords.items()}
    return da.assign_coords(new)
