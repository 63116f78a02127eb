"""The base of the specification's models: frozen, hashable values and one-line errors.

Every model of a specification (:mod:`xkernels.spec.network`) and the kernel options
(:class:`xkernels.spec.options.KernelOptions`) derive from :class:`Spec`: validated on
construction, frozen, no unknown keys, and an invalid value is one error naming the
field, the value and what is allowed (TypeError for a wrong type, ValueError for a bad
value): ``ValueError: connections['I->E'].delay.scale must be > 0, got -0.5``.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from xkernels.checks import check_mapping, check_real, fail
from xkernels.spec.callables import callable_path


class FrozenDict(dict):
    """A dict that cannot be changed and hashes by value.

    The hashable form of every mapping in a specification (distribution parameters,
    biophysics, rotation...); nested lists are tuples.

    Examples
    --------
    >>> d = freeze({"loc": 1.5, "sections": ["apic"]})
    >>> d["sections"], hash(d) == hash(freeze({"sections": ("apic",), "loc": 1.5}))
    (('apic',), True)
    >>> d["loc"] = 2.0
    Traceback (most recent call last):
    ...
    TypeError: FrozenDict cannot be changed
    """

    def __hash__(self) -> int:  # type: ignore[override]
        found = self.__dict__.get("_hash")  # it cannot change: computed once
        if found is None:
            found = self.__dict__["_hash"] = hash(
                tuple(sorted(self.items(), key=lambda item: str(item[0]))))
        return found

    def __reduce__(self) -> tuple:
        return (FrozenDict, (dict(self),))

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("FrozenDict cannot be changed")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _readonly


def freeze(value: Any, mapping: type = FrozenDict, sequence: type = tuple) -> Any:
    """``value`` with mappings as ``mapping`` and lists as ``sequence``, deeply: the
    hashable form (default) or, with ``dict`` and ``list``, a mutable copy.  numpy
    arrays and scalars become Python lists and numbers."""
    if isinstance(value, (np.ndarray, np.generic)):
        value = value.tolist()
    if isinstance(value, Mapping):
        return mapping({k: freeze(v, mapping, sequence) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return sequence(freeze(v, mapping, sequence) for v in value)
    return value


def located(err: Exception) -> PydanticCustomError:
    """An error pydantic locates (it locates ValueErrors; TypeErrors escape it)."""
    return PydanticCustomError(f"xk_{type(err).__name__}", "{message}", {"message": str(err)})


def checked(check: Callable, **limits: Any) -> BeforeValidator:
    """The value as ``check("", value, **limits)`` returns it, its TypeError located too."""
    def run(value: Any) -> Any:
        try:
            return check("", value, **limits)
        except TypeError as err:
            raise located(err) from None
    return BeforeValidator(run)


Real = Annotated[float, checked(check_real)]
Positive = Annotated[float, checked(check_real, positive=True)]
NonNegative = Annotated[float, checked(check_real, nonnegative=True)]
Frozen = Annotated[Any, BeforeValidator(freeze)]
FrozenMap = Annotated[dict[str, Any], AfterValidator(freeze)]

# pydantic's own error types: what is allowed, and whether the value has the wrong type
_PYDANTIC_ERRORS = {"missing": "given", "too_short": "a non-empty list", "dict_type": "a dict",
                    "tuple_type": "a list", "string_type": "a str"}


def _where(loc: tuple, data: Any) -> str:
    """``populations['E'].cell`` for pydantic's location ``('populations', 0, 'cell')``."""
    parts = [f"[{token}]" if isinstance(token, int) else f".{token}" for token in loc]
    if len(loc) > 1 and loc[0] in ("populations", "connections") and isinstance(data, Mapping):
        item = data[loc[0]][loc[1]]
        got = item if isinstance(item, Mapping) else getattr(item, "__dict__", {})
        name = got.get("name") if loc[0] == "populations" else \
            f"{got.get('pre')}->{got.get('post')}"
        if isinstance(name, str) and name and "None" not in name.split("->"):
            parts[1] = f"[{name!r}]"
    return "".join(parts).lstrip(".")


def one_line(err: ValidationError, data: Any, model: str = "network") -> Exception:
    """The first error of ``err`` as ``<field> must be <allowed>, got <value>``.

    Validators report messages relative to the failing model: ``" must be > 0, got 0"``
    (about the model itself, leading space) or ``"tau1 must be ..."`` (about a field).
    """
    first = err.errors()[0]
    where = _where(first["loc"], data)
    kind = first["type"]
    cls: type[Exception] = ValueError
    if kind == "value_error":
        message = str(first["ctx"]["error"])
    elif kind.startswith("xk_"):
        cls = getattr(builtins, kind[3:], ValueError)
        message = first["msg"]
    else:
        allowed = _PYDANTIC_ERRORS.get(kind, first["msg"])
        value = None if kind == "missing" else first["input"]
        cls = ValueError if kind in ("missing", "too_short") else TypeError
        message = f" must be {allowed}, got {value!r}"
    if not where:
        return cls(model + message if message[0] == " " else message)
    return cls(where + message if message[0] in " .[" else f"{where}.{message}")


def _callable_path(value: Any) -> str:
    if not callable(value):
        raise TypeError(f"{value!r} ({type(value).__name__}) cannot be written to JSON")
    return callable_path(value)


class Spec(BaseModel):
    """Base of the specification's models: frozen, no unknown keys, one-line errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True,
                              ser_json_inf_nan="strings")
    _expected: ClassVar[str] = "a dict"

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise one_line(err, data, type(self).__name__.lower()) from None

    @model_validator(mode="wrap")
    @classmethod
    def _checked(cls, data: Any, handler: Callable) -> Any:
        try:
            data = cls._forms(data)
            if not isinstance(data, (Mapping, cls)):
                fail("", data, cls._expected, TypeError)
            if isinstance(data, Mapping):
                check_mapping("", data, cls.model_fields)
            return handler(data)
        except (TypeError, FileNotFoundError) as err:
            raise located(err) from None

    @classmethod
    def _forms(cls, value: Any) -> Any:
        """The accepted shorthands of the model's dict (applied before validation)."""
        return value

    def to_dict(self) -> dict:
        """JSON-serialisable dict (callables as ``module:qualname``, infinities as
        ``"Infinity"``)."""
        return json.loads(self.model_dump_json(fallback=_callable_path))
