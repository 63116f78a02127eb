"""Parameter paths: the one parser of ``connections['E->E'].synapse.weight``-style
addresses into a network specification (used by sweeps and sweep stores)."""

from __future__ import annotations

import re
from collections.abc import Sequence

_NAME = re.compile(r"[^.\[\]]+")


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
        An unclosed ``[``, a stray ``]`` or an empty path.

    Examples
    --------
    >>> split_path("connections['E->E'].delay.params.loc")
    ('connections', 'E->E', 'delay', 'params', 'loc')
    """
    if not isinstance(path, str):
        return tuple(str(token) for token in path)
    tokens, i = [], 0
    while i < len(path):
        char = path[i]
        if char == "[":
            j = path.find("]", i)
            if j < 0:
                raise ValueError(f"parameter path {path!r} has an unclosed '['")
            tokens.append(path[i + 1:j].strip().strip("'\""))
            i = j + 1
        elif char == ".":
            i += 1
        else:
            match = _NAME.match(path, i)
            if match is None:
                raise ValueError(f"parameter path {path!r} has an unexpected {char!r} at "
                                 f"position {i}")
            tokens.append(match.group().strip())
            i = match.end()
    if not tokens:
        raise ValueError(f"parameter path must name a parameter, got {path!r}")
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
