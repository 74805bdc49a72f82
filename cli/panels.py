"""Help layout of the ``chunk`` commands, in plain click (rich costs start-up time).

Options carry a ``panel`` name and ``--help`` prints one section per panel, in the order the
command lists them, after the positional arguments; options without a panel (``--quiet``,
``--help``) close the page under "Options". Metavars name the type (``<int range>``,
``<jsonl|parquet>``), as the CLI always printed them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

# click's type names -> the short names the help shows.
_TYPE_NAMES = {
    "text": "str",
    "integer": "int",
    "integer range": "int range",
    "float": "float",
    "float range": "float range",
    "path": "path",
    "boolean": "bool",
}


def type_metavar(param_type: click.ParamType) -> str:
    if isinstance(param_type, click.Choice):
        return "<" + "|".join(str(c) for c in param_type.choices) + ">"
    return f"<{_TYPE_NAMES.get(param_type.name, param_type.name)}>"


class Option(click.Option):
    """An option that belongs to a help panel (None: the closing "Options" section)."""

    def __init__(self, *args: Any, panel: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.panel = panel

    def make_metavar(self, ctx: click.Context) -> str:
        if self.metavar is not None:
            return self.metavar
        return type_metavar(self.type) + ("..." if self.nargs != 1 else "")


class Argument(click.Argument):
    """A positional argument with a help line: ``NAME`` when required, ``[NAME]`` if not."""

    def make_metavar(self, ctx: click.Context) -> str:
        name = (self.name or "").upper()
        var = name if self.required else f"[{name}]"
        return var + ("..." if self.nargs != 1 else "")

    def get_error_hint(self, ctx: click.Context | None) -> str:
        return f"'{(self.name or '').upper()}'"

    def help_row(self) -> tuple[str, str]:
        name = (self.name or "").upper() + ("..." if self.nargs != 1 else "")
        text = self.help or ""
        if self.required:
            text = f"{text}  [required]" if text else "[required]"
        return f"{name} {type_metavar(self.type)}", text


class Command(click.Command):
    """Arguments, then the options panel by panel (``panels`` gives their order)."""

    def __init__(self, *args: Any, panels: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.panels = tuple(panels)

    def format_arguments(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [p.help_row() for p in self.get_params(ctx) if isinstance(p, Argument)]
        if rows:
            with formatter.section("Arguments"):
                formatter.write_dl(rows)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        by_panel: dict[str | None, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            if isinstance(param, click.Argument):
                continue
            row = param.get_help_record(ctx)
            if row is not None:
                by_panel.setdefault(getattr(param, "panel", None), []).append(row)
        unknown = [p for p in by_panel if p is not None and p not in self.panels]
        if unknown:
            raise ValueError(f"{self.name}: options in undeclared panels {unknown}")
        for title in (*self.panels, None):
            if by_panel.get(title):
                with formatter.section(title or "Options"):
                    formatter.write_dl(by_panel[title])


class Group(click.Group):
    """Commands listed in the order they were defined, not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


def option(*decls: str, panel: str | None = None, **kwargs: Any) -> Callable[[Any], Any]:
    return click.option(*decls, cls=Option, panel=panel, **kwargs)


def argument(name: str, **kwargs: Any) -> Callable[[Any], Any]:
    return click.argument(name, cls=Argument, **kwargs)
