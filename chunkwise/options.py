"""Typed options for plugins: each parser, chunker and embedder declares a frozen dataclass of
its options, and receives a validated instance of it.

A field is declared with :func:`option`: its default, help text, allowed choices or range, the
CLI flag that sets it (if any) and whether it changes the output (only those shape the state
file's options hash). Values may be given as strings (``--opt pdf.tables=false``): the dataclass
coerces them to the field's type, checks them, and refuses unknown keys with a usage error.

    @dataclass(frozen=True)
    class PdfOptions(Options):
        plugin: ClassVar[str] = "pdf"
        tables: bool = option(True, "detect tables")

This module imports nothing heavy: the registry loads options classes to print help and to build
a run's options without importing the plugins themselves.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from chunkwise.errors import UsageError

OptT = TypeVar("OptT", bound="Options")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_NONE = frozenset({"none", "null", ""})


def option(
    default: Any,
    help: str,
    *,
    choices: Sequence[str] | None = None,
    min: float | None = None,
    max: float | None = None,
    flag: str | None = None,
    affects_output: bool = True,
    check: Callable[[Any], object] | None = None,
) -> Any:
    """A field of an :class:`Options` dataclass. ``min``/``max`` are inclusive; ``check`` raises
    ``ValueError`` (or a ``UsageError``) for a value the type and range alone cannot rule out."""
    meta = {
        "help": help,
        "choices": tuple(choices) if choices else None,
        "min": min,
        "max": max,
        "flag": flag,
        "affects_output": affects_output,
        "check": check,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class OptionInfo:
    """One option as ``chunk plugins NAME`` shows it."""

    name: str
    type: str
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    flag: str | None = None
    affects_output: bool = True

    @property
    def range(self) -> str:
        if self.choices:
            return " | ".join(self.choices)
        if self.min is not None and self.max is not None:
            return f"{_num(self.min)}..{_num(self.max)}"
        if self.min is not None:
            return f">= {_num(self.min)}"
        if self.max is not None:
            return f"<= {_num(self.max)}"
        return ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["choices"] = list(self.choices) if self.choices else None
        d["range"] = self.range
        return d


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class Options:
    """Base of every plugin's options; a plugin without options uses it as is (no fields)."""

    # Name in messages and in ``--opt NAME.KEY=VALUE`` (the plugin's registered name).
    plugin: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            raw = getattr(self, f.name)
            value = _coerce(self._label(f), hints[f.name], raw, f.metadata)
            if value is not raw:
                object.__setattr__(self, f.name, value)

    @classmethod
    def _label(cls, f: dataclasses.Field[Any]) -> str:
        name = f"{cls.plugin}.{f.name}" if cls.plugin else f.name
        flag = f.metadata.get("flag")
        return f"{flag} ({name})" if flag else name

    @classmethod
    def option_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_values(cls: type[OptT], values: Mapping[str, Any], name: str = "") -> OptT:
        """An instance from ``{key: value}`` (values may be strings); unknown keys are a usage
        error naming the keys the plugin (``name``, default ``plugin``) takes."""
        unknown = sorted(set(values) - set(cls.option_names()))
        if unknown:
            who = name or cls.plugin or "this plugin"
            keys = ", ".join(f"{who}.{k}" for k in unknown)
            takes = f"{who} options: {', '.join(cls.option_names())}"
            raise UsageError(
                f"unknown option {keys}; {takes if cls.option_names() else who + ' has no options'}"
            )
        return cls(**values)

    @classmethod
    def coerce(cls: type[OptT], value: Options | Mapping[str, Any] | None, name: str = "") -> OptT:
        """What a plugin's constructor accepts: an instance, a mapping of values, or None (the
        defaults)."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Options):
            raise TypeError(f"{name or cls.plugin}: expected {cls.__name__}, not {value!r}")
        return cls.from_values(value, name)

    def merged(self: OptT, values: Mapping[str, Any]) -> OptT:
        """A copy with ``values`` applied (checked like :meth:`from_values`)."""
        return type(self).from_values({**self.as_dict(), **values})

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def output_values(self) -> dict[str, Any]:
        """Fields that change the output and differ from their default: what the options hash
        of an incremental run is made of."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if not f.metadata.get("affects_output", True):
                continue
            value = getattr(self, f.name)
            if value != f.default:
                out[f.name] = value
        return out

    @classmethod
    def describe(cls) -> list[OptionInfo]:
        hints = _hints(cls)
        return [
            OptionInfo(
                name=f.name,
                type=_type_name(hints[f.name]),
                default=f.default,
                help=f.metadata.get("help", ""),
                choices=f.metadata.get("choices"),
                min=f.metadata.get("min"),
                max=f.metadata.get("max"),
                flag=f.metadata.get("flag"),
                affects_output=f.metadata.get("affects_output", True),
            )
            for f in dataclasses.fields(cls)
        ]


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _split_optional(tp: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0], True
    return tp, False


def _type_name(tp: Any) -> str:
    base, optional = _split_optional(tp)
    name = getattr(base, "__name__", str(base))
    return f"{name} | None" if optional else name


def _coerce(label: str, tp: Any, raw: Any, meta: Mapping[str, Any]) -> Any:
    base, optional = _split_optional(tp)
    value = raw
    if isinstance(value, str) and base is not str:
        value = _from_string(label, base, optional, value)
    elif isinstance(value, str) and optional and value.strip().lower() in ("none", "null"):
        value = None
    if value is None:
        if optional:
            return None
        raise UsageError(f"{label} needs a value")
    if base is bool:
        if not isinstance(value, bool):
            raise UsageError(f"{label} must be true or false, not {raw!r}")
    elif base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise UsageError(f"{label} must be a whole number, not {raw!r}")
    elif base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"{label} must be a number, not {raw!r}")
        value = float(value)
        if not math.isfinite(value):
            raise UsageError(f"{label} must be a finite number, not {raw!r}")
    elif base is str and not isinstance(value, str):
        raise UsageError(f"{label} must be text, not {raw!r}")
    choices = meta.get("choices")
    if choices and value not in choices:
        raise UsageError(f"{label} must be one of: {', '.join(choices)} (got {raw!r})")
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise UsageError(f"{label} must be between {_num(lo)} and {_num(hi)} (got {raw!r})")
    if lo is not None and value < lo:
        raise UsageError(f"{label} must be at least {_num(lo)} (got {raw!r})")
    if hi is not None and value > hi:
        raise UsageError(f"{label} must be at most {_num(hi)} (got {raw!r})")
    check = meta.get("check")
    if check is not None:
        try:
            check(value)
        except ValueError as exc:
            raise UsageError(f"{label}: {exc}") from None
    return value


def _from_string(label: str, base: Any, optional: bool, text: str) -> Any:
    s = text.strip()
    if optional and s.lower() in _NONE:
        return None
    if base is bool:
        if s.lower() in _TRUE:
            return True
        if s.lower() in _FALSE:
            return False
        raise UsageError(f"{label} must be true or false, not {text!r}")
    try:
        if base is int:
            return int(s)
        if base is float:
            return float(s)
    except ValueError:
        kind = "a whole number" if base is int else "a number"
        raise UsageError(f"{label} must be {kind}, not {text!r}") from None
    return text


# -- a run's options: one validated instance per plugin -----------------------------------------


def parse_assignment(text: str) -> tuple[str, str, str]:
    """``NAME.KEY=VALUE`` (or ``KIND.NAME.KEY=VALUE``) -> (target, key, value), target being
    ``NAME`` or ``KIND.NAME``."""
    lhs, eq, value = text.partition("=")
    target, dot, key = lhs.strip().rpartition(".")
    if not eq or not dot or not target or not key:
        raise UsageError(f"--opt takes NAME.KEY=VALUE (e.g. pdf.tables=false), not {text!r}")
    return target, key.strip().replace("-", "_"), value


KINDS = ("parsers", "chunkers", "embedders")
# ``--opt embed.KEY=VALUE``: the embedder that runs, whichever it is.
EMBED = "embed"
_ANY = "*"


class OptionValues:
    """Option values gathered from dedicated flags and ``--opt``, validated once by
    :meth:`build`: one options instance per plugin given a value, per kind."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], dict[str, Any]] = {}

    def set(self, kind: str, name: str, key: str, value: Any) -> None:
        self._values.setdefault((kind, name), {})[key] = value

    def set_flag(self, flag: str, value: Any) -> None:
        """Give ``value`` to every field declaring ``flag`` (``--embed-model`` reaches s2, auto
        and the embedders); ``None`` means the flag was not given."""
        if value is None:
            return
        from chunkwise import registry

        for kind in KINDS:
            for name in registry.specs(kind):
                for info in registry.options_class(kind, name).describe():
                    if info.flag == flag:
                        self.set(kind, name, info.name, value)

    def assign(self, text: str) -> None:
        """One ``--opt NAME.KEY=VALUE``."""
        target, key, value = parse_assignment(text)
        kind, name = resolve_target(target, key)
        self.set(kind, name, key, value)

    def values(self, kind: str, name: str) -> dict[str, Any]:
        return {**self._values.get((kind, _ANY), {}), **self._values.get((kind, name), {})}

    def get(self, kind: str, name: str) -> Options:
        """The validated options of one plugin (its defaults when nothing was given)."""
        from chunkwise import registry

        return registry.options_class(kind, name).from_values(self.values(kind, name), name)

    def build(self, kind: str) -> dict[str, Options]:
        """Validated options of every plugin of ``kind`` that was given a value."""
        names = sorted({n for k, n in self._values if k == kind and n != _ANY})
        return {name: self.get(kind, name) for name in names}


def resolve_target(target: str, key: str) -> tuple[str, str]:
    """(kind, name) of the plugin ``--opt TARGET.KEY=...`` means. TARGET is a plugin name,
    ``embed`` (the embedder that runs) or ``KIND.NAME`` when a name is both a parser and a
    chunker (``legal``)."""
    from chunkwise import registry

    if target == EMBED:
        return "embedders", _ANY
    kind_part, dot, name = target.rpartition(".")
    if dot:
        kind = kind_part if kind_part in KINDS else kind_part + "s"
        if kind not in KINDS:
            raise UsageError(
                f"--opt {target}.{key}: {kind_part!r} is not one of {', '.join(KINDS)}"
            )
        if name not in registry.specs(kind):
            raise UsageError(f"--opt: no {kind[:-1]} named {name!r}")
        return kind, name
    kinds = [k for k in KINDS if target in registry.specs(k)]
    if not kinds:
        known = sorted({n for k in KINDS for n in registry.specs(k)} | {EMBED})
        raise UsageError(f"--opt: no plugin named {target!r}; choose from: {', '.join(known)}")
    if len(kinds) > 1:
        having = [k for k in kinds if key in registry.options_class(k, target).option_names()]
        if len(having) > 1:
            raise UsageError(
                f"--opt {target}.{key}: {target} is a {' and a '.join(k[:-1] for k in having)}; "
                f"write {having[0]}.{target}.{key}=..."
            )
        kinds = having or kinds
    return kinds[0], target
