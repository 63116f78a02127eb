"""Parameter paths: the one parser of ``connections['E->E'].synapse.weight``-style
addresses into a network specification (used by sweeps and sweep stores)."""

from __future__ import annotations

import re
from collections.abc import Sequence

_TOKEN = re.compile(r"\[([^\[\]]*)\]|([^.\[\]]+)")
_PATH = re.compile(r"(?:\[[^\[\]]*\]|[^.\[\]]+|\.)+")


def split_path(path: str | Sequence[str]) -> tuple[str, ...]:
    """Tokens of a parameter path.

    Parameters
    ----------
    path : str or sequence of str
        ``connections['E->E'].delay.params.loc`` or ``connections[E->E].delay.loc``;
        a sequence of tokens is returned as a tuple of str.

    Returns
    -------
    tuple of str

    Raises
    ------
    ValueError
        An unclosed ``[``, a stray ``]``, an empty name or an empty path.

    Examples
    --------
    >>> split_path("connections['E->E'].delay.params.loc")
    ('connections', 'E->E', 'delay', 'params', 'loc')
    """
    if not isinstance(path, str):
        return tuple(str(token) for token in path)
    tokens = [(key or name).strip().strip("'\"") for key, name in _TOKEN.findall(path)]
    if not _PATH.fullmatch(path) or not tokens or not all(tokens):
        raise ValueError(f"parameter path must be names joined by '.' with keys in "
                         f"brackets (connections['E->E'].synapse.weight), got {path!r}")
    return tuple(tokens)


def join_path(tokens: Sequence[str]) -> str:
    """The canonical text of a token sequence: ``connections['E->E'].synapse.weight``."""
    out = ""
    for k, token in enumerate(tokens):
        if k == 1 and tokens[0] in ("connections", "populations"):
            out += f"[{token!r}]"
        else:
            out += ("." if out else "") + token
    return out
