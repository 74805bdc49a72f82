"""What the OOXML parsers (DOCX, PPTX, XLSX) share: package relationships, document properties
and namespace-agnostic element access.

Tags are compared by local name, so the Transitional and Strict flavours of OOXML (which differ
only in namespace URIs) read alike.
"""

from __future__ import annotations

import posixpath
from typing import Any

from chunkwise.archive import SafeZip, optional_xml, parse_xml
from chunkwise.errors import ParseError

REL_OFFICE_DOCUMENT = "/officeDocument"


def local(el: Any) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def attr(el: Any, name: str) -> str | None:
    """Attribute ``name`` in any namespace (``w:val``, ``r:id``) or none."""
    v = el.get(name)
    if v is not None:
        return str(v)
    for key, value in el.attrib.items():
        if key.endswith("}" + name):
            return str(value)
    return None


def rel_id(el: Any) -> str | None:
    """The ``r:id`` of an element (never its plain ``id``, which some elements also have)."""
    for key, value in el.attrib.items():
        if key.endswith("}id"):
            return str(value)
    return None


def children(el: Any, name: str) -> list[Any]:
    # "{*}name" matches the local name in any namespace, or none, at C speed.
    return list(el.iterchildren("{*}" + name))


def child(el: Any, name: str) -> Any:
    return el.find("{*}" + name)


def descendants(el: Any, name: str) -> list[Any]:
    return list(el.iter("{*}" + name))


def rels_path(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def relationships(zf: SafeZip, part: str) -> dict[str, tuple[str, str, bool]]:
    """Relationships of ``part``: id -> (type suffix, target, external). Internal targets are
    resolved to member names."""
    path = rels_path(part) if part else "_rels/.rels"
    if not zf.has(path):
        return {}
    root = parse_xml(zf, path)
    folder = posixpath.dirname(part)
    out: dict[str, tuple[str, str, bool]] = {}
    for rel in root:
        rid = rel.get("Id")
        target = rel.get("Target") or ""
        rtype = (rel.get("Type") or "").rsplit("/", 1)[-1]
        external = (rel.get("TargetMode") or "") == "External"
        if not external:
            if target.startswith("/"):
                target = target.lstrip("/")
            else:
                target = posixpath.normpath(posixpath.join(folder, target))
        if rid:
            out[rid] = (rtype, target, external)
    return out


def main_part(zf: SafeZip, default: str, what: str) -> str:
    """The package's main part (``word/document.xml``...), from the root relationships."""
    for rtype, target, external in relationships(zf, "").values():
        if rtype == REL_OFFICE_DOCUMENT.lstrip("/") and not external and zf.has(target):
            return zf.find(target) or target
    if zf.has(default):
        return zf.find(default) or default
    raise ParseError(f"not a {what}: the zip has no {default} (another kind of zip?)")


def core_properties(zf: SafeZip) -> dict[str, Any]:
    """Title, author, dates... from docProps/core.xml (empty when absent or unreadable)."""
    root = optional_xml(zf, "docProps/core.xml")
    if root is None:
        return {}
    names = {
        "title": "title",
        "creator": "author",
        "subject": "subject",
        "description": "description",
        "keywords": "keywords",
        "created": "created",
        "modified": "modified",
        "lastModifiedBy": "last_modified_by",
        "language": "language",
    }
    out: dict[str, Any] = {}
    for el in root:
        key = names.get(local(el))
        text = " ".join((el.text or "").split())
        if key and text:
            out[key] = text
    return out
