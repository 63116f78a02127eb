"""The JSON of a network specification, assembled from the JSON of its populations and
connections, each written once per object.

A kernel computation records its network as JSON twice (the ``spec`` attribute, keys
sorted, and inside the canonical text of the content hash, compact) and keeps it as a
dict (:func:`~xkernels.engine.kernels.kernel_inputs`).  Writing the README network's
specification costs ~0.25 ms of a new computation's ~2 ms with the linear solver.  A
network changed by :meth:`~xkernels.Network.with_values` shares every population and
connection it did not change with the network it came from (frozen, validated models):
the JSON of those is kept per object (held, so that an id is not reused while kept) and
only the changed ones are written.  The texts are the same, character for character,
as ``json.dumps(network.to_dict(), sort_keys=True)`` and its compact form
(``tests/test_linear_solver.py`` checks it).
"""

from __future__ import annotations

import json
from typing import Any

from xkernels.spec.network import Network

__all__ = ["network_json"]

#: The fields of :class:`~xkernels.Network` this module assembles; a network with
#: other fields is written whole.
_PARTS = ("populations", "connections")
_SCALARS = ("spec_version", "conductance_based")
_KEYS = {name: json.dumps(name) for name in (*_PARTS, *_SCALARS)}

#: Populations and connections written (id -> (object, dict, sorted JSON, compact JSON)).
_WRITTEN: dict = {}
WRITTEN_KEPT = 512


def network_json(network: Network) -> tuple[dict, str, str]:
    """``network.to_dict()``, its JSON with sorted keys and the same compact.

    Parameters
    ----------
    network : Network
        The specification.

    Returns
    -------
    tuple
        ``(spec, text, compact)``: the dict (its populations' and connections' dicts
        are shared with other calls: not to be changed), ``json.dumps(spec,
        sort_keys=True)`` and ``json.dumps(spec, sort_keys=True, separators=(",",
        ":"))``.

    Examples
    --------
    >>> net = Network.example()
    >>> spec, text, compact = network_json(net)
    >>> spec == net.to_dict(), text == json.dumps(net.to_dict(), sort_keys=True)
    (True, True)
    """
    if set(type(network).model_fields) != {*_PARTS, *_SCALARS} or not all(
            type(getattr(network, name)) in (bool, int) for name in _SCALARS):
        spec = network.to_dict()
        return spec, _dumps(spec, ", ", ": "), _dumps(spec, ",", ":")
    parts = {name: [_written(model) for model in getattr(network, name)] for name in _PARTS}
    spec = {name: getattr(network, name) for name in _SCALARS}
    spec.update({name: [found[1] for found in parts[name]] for name in _PARTS})
    spec = {name: spec[name] for name in type(network).model_fields}  # to_dict's order
    texts = []
    for comma, colon, index in ((", ", ": ", 2), (",", ":", 3)):
        items = [f"{_KEYS[name]}{colon}"
                 + ("[" + comma.join(found[index] for found in parts[name]) + "]"
                    if name in parts else json.dumps(spec[name]))
                 for name in sorted(spec)]
        texts.append("{" + comma.join(items) + "}")
    return spec, texts[0], texts[1]


def _written(model: Any) -> tuple:
    """``(model, dict, sorted JSON, compact JSON)`` of a population or connection, kept."""
    found = _WRITTEN.get(id(model))
    if found is None or found[0] is not model:
        d = model.to_dict()
        found = (model, d, _dumps(d, ", ", ": "), _dumps(d, ",", ":"))
        while len(_WRITTEN) >= WRITTEN_KEPT:
            _WRITTEN.pop(next(iter(_WRITTEN), None), None)  # threads may race here
        _WRITTEN[id(model)] = found
    return found


def _dumps(value: Any, comma: str, colon: str) -> str:
    return json.dumps(value, sort_keys=True, separators=(comma, colon), allow_nan=False)
