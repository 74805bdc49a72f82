"""Modules imported on first use rather than at start-up.

numpy takes ~40 ms to import, a fifth of a small file's whole ``chunk ingest``, and the recursive
path of a small text never touches it (its batches are lists; numpy serves large texts). A module
that writes ``np = lazy_module("numpy", globals(), "np")`` holds a stand-in until its first
``np.<name>``, which imports numpy (under the import system's lock, so threads are safe) and puts
the real module in the stand-in's place: later uses in that module are plain global lookups.
"""

from __future__ import annotations

import importlib
from typing import Any


class _StandIn:
    __slots__ = ("_alias", "_name", "_namespace")

    def __init__(self, name: str, namespace: dict[str, Any], alias: str) -> None:
        self._name = name
        self._namespace = namespace
        self._alias = alias

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self._name)
        self._namespace[self._alias] = module
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"


def lazy_module(name: str, namespace: dict[str, Any], alias: str) -> Any:
    """A stand-in for module ``name``, bound as ``alias`` in ``namespace`` (the caller's
    ``globals()``), replaced there by the module when first used. Already imported: the module."""
    import sys

    module = sys.modules.get(name)
    return module if module is not None else _StandIn(name, namespace, alias)
