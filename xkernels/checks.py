"""One policy for checking user input, used by every layer.

Wrong *types* raise :class:`TypeError`, wrong *values* raise :class:`ValueError`; both
name the field, the value received and what is allowed, e.g.
``ValueError: connections['I->E'].delay.scale must be > 0, got -0.5``.
Checks run before any work starts.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

import numpy as np


def close_matches(word: Any, choices: Iterable[Any], n: int = 3,
                  cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` of ``choices`` closest to ``word`` (difflib), best first.

    Examples
    --------
    >>> close_matches("wieght", ["weight", "tau1", "tau2"])
    ['weight']
    """
    return difflib.get_close_matches(str(word), [str(c) for c in choices], n=n, cutoff=cutoff)


def count(n: int, word: str, words: str | None = None) -> str:
    """``n`` and the noun in the right number: "1 kernel", "2 kernels".

    Parameters
    ----------
    n : int
        How many.
    word : str
        The noun in the singular.
    words : str, optional
        Its plural (default: ``word + "s"``).

    Returns
    -------
    str

    Examples
    --------
    >>> count(1, "kernel"), count(2, "kernel"), count(0, "batch", "batches")
    ('1 kernel', '2 kernels', '0 batches')
    """
    return f"{n} {word if n == 1 else (words or word + 's')}"


def did_you_mean(word: Any, choices: Iterable[Any], n: int = 3) -> str:
    """``"; did you mean 'a' or 'b'?"`` for the choices closest to ``word``, or ``""``.

    Examples
    --------
    >>> did_you_mean("comptue", ["demo", "compute", "sweep"])
    "; did you mean 'compute'?"
    """
    close = close_matches(word, choices, n)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def fail(field: str, value: Any, allowed: str, exc: type[Exception] = ValueError) -> NoReturn:
    """Raise ``exc`` saying ``field must be <allowed>, got <value>``."""
    raise exc(f"{field} must be {allowed}, got {value!r}")


def check_real(field: str, value: Any, *, positive: bool = False, nonnegative: bool = False,
               finite: bool = True) -> float:
    """``value`` as a float: a real number (not a bool), finite unless ``finite=False``,
    > 0 with ``positive``, >= 0 with ``nonnegative``.

    Examples
    --------
    >>> check_real("dt", 0.1, positive=True)
    0.1
    >>> check_real("dt", -1, positive=True)
    Traceback (most recent call last):
    ...
    ValueError: dt must be > 0, got -1.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(field, value, "a real number", TypeError)
    value = float(value)
    if finite and not math.isfinite(value):
        fail(field, value, "finite")
    if math.isnan(value):
        fail(field, value, "a number (not NaN)")
    if positive and not value > 0:
        fail(field, value, "> 0")
    if nonnegative and not value >= 0:
        fail(field, value, ">= 0")
    return value


def check_int(field: str, value: Any, *, minimum: int | None = None) -> int:
    """``value`` as an int (a Python or numpy integer, not a bool), >= ``minimum``.

    Examples
    --------
    >>> check_int("n_positions", 0, minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: n_positions must be an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(field, value, "an integer", TypeError)
    value = int(value)
    if minimum is not None and value < minimum:
        fail(field, value, f"an integer >= {minimum}")
    return value


def check_bool(field: str, value: Any) -> bool:
    """``value`` as a bool (``True``/``False`` or a numpy bool)."""
    if not isinstance(value, (bool, np.bool_)):
        fail(field, value, "True or False", TypeError)
    return bool(value)


def check_choice(field: str, value: Any, allowed: Iterable[Any]) -> Any:
    """``value`` if it is one of ``allowed``.

    Examples
    --------
    >>> check_choice("kind", "bars", ("traces", "image"))
    Traceback (most recent call last):
    ...
    ValueError: kind must be one of ['traces', 'image'], got 'bars'
    """
    allowed = list(allowed)
    if value not in allowed:
        hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
        raise ValueError(f"{field} must be one of {allowed}, got {value!r}{hint}")
    return value


def check_mapping(field: str, value: Any, allowed_keys: Iterable[str] | None = None, *,
                  expected: str = "a mapping (dict)") -> dict:
    """A copy of mapping ``value`` (TypeError saying ``expected`` otherwise), its keys
    within ``allowed_keys`` (ValueError naming the unknown ones)."""
    if not isinstance(value, Mapping):
        fail(field, value, expected, TypeError)
    value = dict(value)
    if allowed_keys is not None:
        allowed = sorted(allowed_keys)
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            hints = [f"{close_matches(k, allowed, 1)[0]!r} for {k!r}" for k in unknown
                     if close_matches(k, allowed, 1)]
            hint = f"; did you mean {', '.join(hints)}?" if hints else ""
            raise ValueError(f"{field} keys must be a subset of {allowed}, got {unknown!r}"
                             f"{hint}")
    return value


def check_array(field: str, value: Any, *, ndim: int, last: int | None = None) -> np.ndarray:
    """``value`` as a non-empty float array of ``ndim`` dims (last axis ``last`` long),
    all finite."""
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        fail(field, value, "an array of real numbers", TypeError)
    if arr.ndim != ndim or arr.size == 0 or (last is not None and arr.shape[-1] != last):
        want = f"{ndim}-D" + (f" with last axis of length {last}" if last else "")
        fail(f"{field}.shape", arr.shape, f"a non-empty {want} array shape")
    if not np.all(np.isfinite(arr)):
        fail(field, arr.tolist(), "finite values only")
    return arr
