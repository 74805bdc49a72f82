"""Lazy, sorted folder walking with .gitignore-style include/exclude rules."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Folders that hold tool state, dependencies or build output rather than documents.
DEFAULT_EXCLUDES = (
    ".git/",
    ".hg/",
    ".svn/",
    "node_modules/",
    "__pycache__/",
    ".venv/",
    "venv/",
    ".tox/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    "dist/",
    "build/",
    ".DS_Store",
)


def _translate(pat: str) -> str:
    """gitignore glob -> regex body (no anchors)."""
    out: list[str] = []
    i = 0
    n = len(pat)
    while i < n:
        c = pat[i]
        if c == "*":
            if pat[i : i + 3] == "**/":
                out.append("(?:.*/)?")
                i += 3
                continue
            if pat[i : i + 2] == "**":
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pat.find("]", i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pat[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pat[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Rule:
    base: str  # folder (relative to the walk root, posix, "" for root) the rule applies under
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool

    @classmethod
    def parse(cls, line: str, base: str = "") -> Rule | None:
        line = line.rstrip("\n").rstrip("\r")
        if not line.strip() or line.startswith("#"):
            return None
        line = line.rstrip(" ") if not line.endswith("\\ ") else line
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            return None
        anchored = "/" in line
        line = line.lstrip("/")
        body = _translate(line)
        regex = re.compile(("^" if anchored else "(?:^|.*/)") + body + "(?:/.*)?$")
        return cls(base, regex, negate, dir_only)

    def matches(self, rel: str, is_dir: bool) -> bool:
        if self.base:
            if not rel.startswith(self.base + "/"):
                return False
            rel = rel[len(self.base) + 1 :]
        if self.dir_only and not is_dir:
            # "build/" also excludes files below a folder called build.
            return "/" in rel and bool(self.regex.match(rel.rsplit("/", 1)[0]))
        return bool(self.regex.match(rel))


def ignored(rules: Sequence[Rule], rel: str, is_dir: bool) -> bool:
    result = False
    for rule in rules:
        if rule.negate == result and rule.matches(rel, is_dir):
            result = not rule.negate
    return result


@dataclass
class WalkOptions:
    include: Sequence[str] = ()  # --glob patterns; empty = every file a parser claims
    exclude: Sequence[str] = ()
    gitignore: bool = True
    default_excludes: bool = True
    # Descend into folder symlinks (--follow-symlinks); a link back to an ancestor is skipped.
    follow_symlinks: bool = False
    _include_rules: list[Rule] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._include_rules = [r for p in self.include if (r := Rule.parse(p)) is not None]

    def base_rules(self) -> list[Rule]:
        pats = [*DEFAULT_EXCLUDES] if self.default_excludes else []
        pats.extend(self.exclude)
        return [r for p in pats if (r := Rule.parse(p)) is not None]

    def included(self, rel: str) -> bool:
        if not self._include_rules:
            return True
        return ignored(self._include_rules, rel, False)


def walk(root: Path, options: WalkOptions) -> Iterator[Path]:
    """Files under ``root`` in sorted order, depth first, honouring the rules; lazily."""
    return (Path(path) for path, _, _ in walk_files(root, options))


def walk_files(root: Path, options: WalkOptions) -> Iterator[tuple[str, str, bool]]:
    """``walk``'s files as (path, path relative to ``root`` with "/", is a symlink), from the
    folder entries already read: a caller needs no ``lstat`` per file to tell links apart. The
    paths are strings (a ``Path`` costs ~2 us to make and more to pickle to a worker: most of
    the walk's time per file in a folder of small files).

    Iterative (an explicit stack of open folders), so a tree of any depth is walked: a recursive
    walker hit Python's recursion limit on a folder nested ~975 levels deep and ended the run.
    """
    stack: list[_Frame] = []
    top = _open_dir(root, "", options.base_rules(), options, frozenset())
    if top is not None:
        stack.append(top)
    while stack:
        frame = stack[-1]
        entry = next(frame.entries, None)
        if entry is None:
            stack.pop()
            continue
        child_rel = f"{frame.rel}/{entry.name}" if frame.rel else entry.name
        try:
            # Folder symlinks are not followed by default: they can loop or leave the tree.
            is_dir = entry.is_dir(follow_symlinks=options.follow_symlinks)
            is_file = entry.is_file()
        except OSError:
            continue
        if is_dir:
            if not ignored(frame.rules, child_rel, True):
                child = _open_dir(
                    Path(entry.path), child_rel, frame.rules, options, frame.ancestors
                )
                if child is not None:
                    stack.append(child)
        elif is_file and not frame.file_ignored(child_rel) and options.included(child_rel):
            try:
                link = entry.is_symlink()
            except OSError:
                continue
            yield entry.path, child_rel, link


@dataclass
class _Frame:
    entries: Iterator[os.DirEntry[str]]
    rel: str
    rules: list[Rule]
    ancestors: frozenset[tuple[int, int]]
    # Without negated rules a file is ignored when any rule matches it, and what a folder rule
    # ("build/") says of a file depends only on the folder the file is in: decided once here,
    # so a file meets only the file rules (one regex, not one call per rule per file).
    _file_rules: list[Rule] | None = None
    _folder_ignored: bool = False

    def __post_init__(self) -> None:
        if not any(rule.negate for rule in self.rules):
            probe = f"{self.rel}/_" if self.rel else "_"
            self._folder_ignored = any(r.matches(probe, False) for r in self.rules if r.dir_only)
            self._file_rules = [r for r in self.rules if not r.dir_only]

    def file_ignored(self, rel: str) -> bool:
        if self._file_rules is None:
            return ignored(self.rules, rel, False)
        return self._folder_ignored or any(r.matches(rel, False) for r in self._file_rules)


def _open_dir(
    folder: Path,
    rel: str,
    rules: list[Rule],
    options: WalkOptions,
    ancestors: frozenset[tuple[int, int]],
) -> _Frame | None:
    if options.follow_symlinks:
        try:
            st = folder.stat()
        except OSError:
            return None
        if (st.st_dev, st.st_ino) in ancestors:
            return None  # a symlink loop back to a folder being walked
        ancestors = ancestors | {(st.st_dev, st.st_ino)}
    if options.gitignore:
        gi = folder / ".gitignore"
        if gi.is_file():
            try:
                lines = gi.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                lines = []
            rules = rules + [r for ln in lines if (r := Rule.parse(ln, rel)) is not None]
    try:
        # Read whole and sorted (then closed): an open scandir per level would hold one file
        # descriptor per level of depth.
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return None
    return _Frame(iter(entries), rel, rules, ancestors)
