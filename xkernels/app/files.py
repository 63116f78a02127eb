"""The files the command line and the demo read and write.

Specification documents (``SPEC.json``: network, probes, options), JSON inputs, and
the checks of outputs before any work.  User errors are :class:`CLIError`: one line
naming the file and the problem.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xkernels.checks import did_you_mean
from xkernels.spec.options import KernelOptions

SPEC_KEYS = ("network", "probes", "options")


class CLIError(Exception):
    """A user error: reported as one line, exit status 1."""


_PACKAGE = Path(__file__).resolve().parents[1]


def raised_by_xkernels(err: BaseException) -> bool:
    """Whether ``err`` was raised by xkernels' own code (a check refusing an input),
    not by a library it calls: only those are reported as one-line user errors; any
    other ValueError/TypeError/KeyError is a bug and keeps its traceback.

    Parameters
    ----------
    err : BaseException
        A caught exception.

    Returns
    -------
    bool
        True if the innermost frame of its traceback is in the xkernels package.

    Examples
    --------
    >>> from xkernels.checks import check_real
    >>> try:
    ...     check_real("dt", -1.0, positive=True)
    ... except ValueError as err:
    ...     print(raised_by_xkernels(err))
    True
    >>> import numpy as np
    >>> try:
    ...     np.ones(2) + np.ones(3)
    ... except ValueError as err:
    ...     print(raised_by_xkernels(err))
    False
    """
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(_PACKAGE)


def read_json(path: str | Path, what: str) -> Any:
    """Parse a JSON file or raise :class:`CLIError` naming it.

    Parameters
    ----------
    path : str or Path
        JSON file.
    what : str
        What the file is (``"spec"``, ``"grid"``), for error messages.

    Returns
    -------
    object
        The parsed document.
    """
    path = Path(path)
    if not path.exists():
        raise CLIError(f"{what} file {str(path)!r} does not exist")
    if not path.is_file():
        raise CLIError(f"{what} file {str(path)!r} is not a regular file")
    try:
        return json.loads(path.read_text())
    except UnicodeDecodeError:
        raise CLIError(f"{what} file {str(path)!r} is not a text file") from None
    except json.JSONDecodeError as err:
        raise CLIError(f"{what} file {str(path)!r} is not valid JSON: {err}") from None


def default_probes() -> dict[str, Any]:
    """The README probes: 13-contact LFP (``lfp``, µm, S/m) and z-only CDM (``cdm``)."""
    from xkernels.probes.models import CurrentDipoleMomentZ, GaussCylinderPotential

    return {"lfp": GaussCylinderPotential(z=np.linspace(1000.0, -200.0, 13), sigma=0.3,
                                          R=150.0, sigma_z=75.0),
            "cdm": CurrentDipoleMomentZ()}


def load_spec(path: str | Path, **changes: Any) -> tuple[Any, dict[str, Any], KernelOptions]:
    """Read a computation spec: (Network, probes dict, KernelOptions).

    Parameters
    ----------
    path : str or Path
        JSON file: ``{"network": ..., "probes": ..., "options": ...}`` or a bare
        network dict (then the README probes and default options are used).
    **changes
        Options replacing the file's (those given on the command line).

    Returns
    -------
    network, probes, options
        The ``options`` block is the JSON of :class:`xkernels.KernelOptions` (ms, mV);
        options it leaves out take their defaults.
    """
    from xkernels.probes import probe_from_definition
    from xkernels.spec.files import from_folder
    from xkernels.spec.network import Network

    data = read_json(path, "spec")
    if not isinstance(data, dict):
        raise CLIError(f"spec file {str(path)!r} must hold a JSON object, "
                       f"got {type(data).__name__}")
    if "network" not in data:
        data = {"network": data}
    unknown = sorted(set(data) - set(SPEC_KEYS))
    if unknown:
        raise CLIError(f"spec file {str(path)!r} has unknown keys {unknown}; "
                       f"allowed: {list(SPEC_KEYS)}{did_you_mean(unknown[0], SPEC_KEYS)}")
    try:
        folder = Path(os.path.abspath(path)).parent
        network = Network.from_dict(from_folder(data["network"], folder))
    except (ValueError, TypeError, KeyError, FileNotFoundError) as err:
        raise CLIError(f"spec file {str(path)!r}: network: {err}") from None
    probe_defs = data.get("probes")
    if probe_defs is None:
        probes = default_probes()
    else:
        if not isinstance(probe_defs, dict) or not probe_defs:
            raise CLIError(f"spec file {str(path)!r}: probes must be a non-empty object "
                           f"name -> {{'class': ..., 'params': ...}}")
        probes = {}
        for name, definition in probe_defs.items():
            try:
                probes[name] = probe_from_definition(definition)
            except (ValueError, TypeError) as err:
                raise CLIError(f"spec file {str(path)!r}: probes[{name!r}]: {err}") from None
    try:
        return network, probes, KernelOptions.of(data.get("options"), **changes)
    except (ValueError, TypeError) as err:
        raise CLIError(f"spec file {str(path)!r}: options: {err}") from None


def spec_document(network: Any, probes: Mapping[str, Any],
                  options: KernelOptions | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON document :func:`load_spec` reads.

    Parameters
    ----------
    network : xkernels.Network
        The network.
    probes : mapping
        Probe name -> probe.
    options : KernelOptions or mapping, optional
        Options of the kernels (:class:`xkernels.KernelOptions`; default: the defaults).

    Returns
    -------
    dict
        ``{"network": ..., "probes": ..., "options": ...}``.
    """
    from xkernels.probes import probe_definition

    return {"network": network.to_dict(),
            "probes": {name: probe_definition(p) for name, p in probes.items()},
            "options": KernelOptions.of(options).model_dump(mode="json")}


def check_output(path: str | Path, overwrite: bool) -> Path:
    """Refuse an existing output unless ``overwrite``; the parent must be a folder.

    Returns
    -------
    Path
        ``path`` as a Path.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise CLIError(f"output {str(path)!r} already exists (use --overwrite to replace it)")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise CLIError(f"output {str(path)!r}: parent {str(parent)!r} is not a folder")
    return path

