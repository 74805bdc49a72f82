"""Source code: language from the file extension (or a shebang), syntax tree from tree-sitter.

``Document.text`` is the decoded file verbatim. Elements are the syntax nodes a reader navigates
by: the module, classes and other type definitions, functions and methods, import blocks, comments
and (Python) docstrings, each with its line range, name, qualified symbol and scope path
(``module > class Foo > def bar``).

tree-sitter works on UTF-8 bytes; node byte offsets are mapped to character offsets into
``Document.text``. The syntax tree itself is not stored in the Document (it cannot be pickled
between worker processes); the cAST chunker asks :func:`parse_tree`, which reuses the tree this
parser just built for the same text.
"""

from __future__ import annotations

import bisect
import functools
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from chunkwise.parsers.options import CodeOptions

from chunkwise.errors import ParseError
from chunkwise.parsing import BaseParser, decode_text
from chunkwise.types import Document, Element

log = logging.getLogger("chunkwise")


@dataclass(frozen=True)
class LanguageSpec:
    """How to load one grammar and which of its nodes matter."""

    name: str
    module: str
    function: str
    extensions: tuple[str, ...]
    interpreters: tuple[str, ...] = ()
    # node type -> element kind ("class", "function", "method", "struct", ...)
    definitions: Mapping[str, str] = field(default_factory=dict)
    imports: tuple[str, ...] = ()
    comments: tuple[str, ...] = ("comment",)
    # Nodes that wrap a definition and belong to it (decorators, export, template<>).
    wrappers: tuple[str, ...] = ()
    # kind -> word used in scope labels ("def bar", "fn main"); the kind itself otherwise.
    words: Mapping[str, str] = field(default_factory=dict)
    # Extra query patterns (tree-sitter query syntax) captured as @function etc.
    extra_patterns: str = ""


_CLASSLIKE = frozenset(
    {"class", "struct", "interface", "trait", "impl", "enum", "record", "object", "extension"}
)

_JS_DEFS = {
    "class_declaration": "class",
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "method_definition": "method",
}
_JS_EXTRA = """
(variable_declarator name: (identifier) value: [(arrow_function) (function_expression)]) @function
"""
_TS_DEFS = {
    **_JS_DEFS,
    "abstract_class_declaration": "class",
    "interface_declaration": "interface",
    "type_alias_declaration": "type",
    "enum_declaration": "enum",
    "internal_module": "namespace",
    "module": "namespace",
    "function_signature": "function",
}
_C_DEFS = {"function_definition": "function", "type_definition": "type"}
_C_EXTRA = """
(struct_specifier name: (_) body: (_)) @struct
(union_specifier name: (_) body: (_)) @struct
(enum_specifier name: (_) body: (_)) @enum
"""

# Files and interpreters of the JavaScript family, by language.
_JS_FILES = {
    "javascript": ((".js", ".mjs", ".cjs", ".jsx"), ("node", "nodejs", "deno", "bun")),
    "typescript": ((".ts", ".mts", ".cts"), ("ts-node", "tsx")),
    "tsx": ((".tsx",), ()),
}


def _js_like(name: str, module: str, function: str, definitions: Mapping[str, str]) -> LanguageSpec:
    """JavaScript, TypeScript and TSX: the same imports, export/declaration wrappers and
    arrow-function definitions."""
    extensions, interpreters = _JS_FILES[name]
    return LanguageSpec(
        name,
        module,
        function,
        extensions,
        interpreters,
        definitions,
        ("import_statement",),
        wrappers=("export_statement", "lexical_declaration", "variable_declaration"),
        extra_patterns=_JS_EXTRA,
    )


LANGUAGES: dict[str, LanguageSpec] = {
    spec.name: spec
    for spec in (
        LanguageSpec(
            "python",
            "tree_sitter_python",
            "language",
            (".py", ".pyi", ".pyw"),
            ("python", "python2", "python3", "pypy", "pypy3"),
            {"class_definition": "class", "function_definition": "function"},
            ("import_statement", "import_from_statement", "future_import_statement"),
            wrappers=("decorated_definition",),
            words={"function": "def", "method": "def"},
        ),
        _js_like("javascript", "tree_sitter_javascript", "language", _JS_DEFS),
        _js_like("typescript", "tree_sitter_typescript", "language_typescript", _TS_DEFS),
        _js_like("tsx", "tree_sitter_typescript", "language_tsx", _TS_DEFS),
        LanguageSpec(
            "go",
            "tree_sitter_go",
            "language",
            (".go",),
            (),
            {
                "function_declaration": "function",
                "method_declaration": "method",
                "type_spec": "type",
            },
            ("import_declaration", "package_clause"),
            wrappers=("type_declaration",),
            words={"function": "func", "method": "func"},
        ),
        LanguageSpec(
            "rust",
            "tree_sitter_rust",
            "language",
            (".rs",),
            (),
            {
                "function_item": "function",
                "function_signature_item": "function",
                "struct_item": "struct",
                "enum_item": "enum",
                "union_item": "struct",
                "trait_item": "trait",
                "impl_item": "impl",
                "mod_item": "namespace",
                "macro_definition": "macro",
            },
            ("use_declaration", "extern_crate_declaration"),
            ("line_comment", "block_comment"),
            words={"function": "fn", "method": "fn", "namespace": "mod", "macro": "macro_rules!"},
        ),
        LanguageSpec(
            "java",
            "tree_sitter_java",
            "language",
            (".java",),
            (),
            {
                "class_declaration": "class",
                "interface_declaration": "interface",
                "annotation_type_declaration": "interface",
                "enum_declaration": "enum",
                "record_declaration": "record",
                "method_declaration": "method",
                "constructor_declaration": "method",
            },
            ("import_declaration", "package_declaration"),
            ("line_comment", "block_comment"),
        ),
        LanguageSpec(
            "c",
            "tree_sitter_c",
            "language",
            (".c", ".h"),
            ("tcc",),
            _C_DEFS,
            ("preproc_include",),
            extra_patterns=_C_EXTRA,
        ),
        LanguageSpec(
            "cpp",
            "tree_sitter_cpp",
            "language",
            (".cpp", ".cc", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp", ".inl"),
            (),
            {**_C_DEFS, "namespace_definition": "namespace"},
            ("preproc_include", "using_declaration"),
            wrappers=("template_declaration",),
            extra_patterns=_C_EXTRA + "(class_specifier name: (_) body: (_)) @class\n",
        ),
        LanguageSpec(
            "csharp",
            "tree_sitter_c_sharp",
            "language",
            (".cs", ".csx"),
            ("dotnet-script",),
            {
                "namespace_declaration": "namespace",
                "file_scoped_namespace_declaration": "namespace",
                "class_declaration": "class",
                "interface_declaration": "interface",
                "struct_declaration": "struct",
                "enum_declaration": "enum",
                "record_declaration": "record",
                "method_declaration": "method",
                "constructor_declaration": "method",
                "destructor_declaration": "method",
                "operator_declaration": "method",
                "local_function_statement": "function",
            },
            ("using_directive", "extern_alias_directive"),
        ),
        LanguageSpec(
            "ruby",
            "tree_sitter_ruby",
            "language",
            (".rb", ".rake", ".gemspec", ".ru"),
            ("ruby", "jruby", "truffleruby"),
            {
                "class": "class",
                "singleton_class": "class",
                "module": "namespace",
                "method": "function",
                "singleton_method": "method",
            },
            words={"function": "def", "method": "def", "namespace": "module"},
        ),
        LanguageSpec(
            "php",
            "tree_sitter_php",
            "language_php",
            (".php", ".phtml", ".php8"),
            ("php",),
            {
                "namespace_definition": "namespace",
                "class_declaration": "class",
                "interface_declaration": "interface",
                "trait_declaration": "trait",
                "enum_declaration": "enum",
                "method_declaration": "method",
                "function_definition": "function",
            },
            ("namespace_use_declaration",),
        ),
        LanguageSpec(
            "kotlin",
            "tree_sitter_kotlin",
            "language",
            (".kt", ".kts"),
            ("kotlin",),
            {
                "class_declaration": "class",
                "object_declaration": "object",
                "companion_object": "object",
                "function_declaration": "function",
                "secondary_constructor": "method",
            },
            ("import", "package_header"),
            ("line_comment", "block_comment"),
            words={"function": "fun", "method": "fun"},
        ),
        LanguageSpec(
            "scala",
            "tree_sitter_scala",
            "language",
            (".scala", ".sc"),
            ("scala",),
            {
                "class_definition": "class",
                "object_definition": "object",
                "trait_definition": "trait",
                "enum_definition": "enum",
                "function_definition": "function",
                "function_declaration": "function",
                "given_definition": "function",
            },
            ("import_declaration", "package_clause"),
            ("comment", "block_comment"),
            words={"function": "def", "method": "def"},
        ),
        LanguageSpec(
            "swift",
            "tree_sitter_swift",
            "language",
            (".swift",),
            ("swift",),
            {
                "class_declaration": "class",
                "protocol_declaration": "interface",
                "function_declaration": "function",
                "protocol_function_declaration": "function",
                "init_declaration": "method",
                "deinit_declaration": "method",
            },
            ("import_declaration",),
            ("comment", "multiline_comment"),
            words={"function": "func", "method": "func", "interface": "protocol"},
        ),
        LanguageSpec(
            "bash",
            "tree_sitter_bash",
            "language",
            (".sh", ".bash", ".ksh", ".bats"),
            ("sh", "bash", "dash", "ksh", "zsh", "ash"),
            {"function_definition": "function"},
        ),
        LanguageSpec(
            "lua",
            "tree_sitter_lua",
            "language",
            (".lua",),
            ("lua", "luajit"),
            {"function_declaration": "function"},
        ),
    )
}

EXTENSIONS: tuple[str, ...] = tuple(ext for spec in LANGUAGES.values() for ext in spec.extensions)
_BY_EXTENSION = {ext: spec.name for spec in LANGUAGES.values() for ext in spec.extensions}
_BY_INTERPRETER = {i: spec.name for spec in LANGUAGES.values() for i in spec.interpreters}
_ALIASES = {
    "js": "javascript",
    "ts": "typescript",
    "c++": "cpp",
    "py": "python",
    "rs": "rust",
    "c#": "csharp",
    "cs": "csharp",
    "rb": "ruby",
    "kt": "kotlin",
    "sh": "bash",
    "shell": "bash",
}
# ".h" is shared by C and C++; these only occur in C++ headers.
_CPP_HEADER = re.compile(
    rb"^\s*(?:namespace\s+\w+\s*\{|template\s*<|class\s+\w+[^;]*\{|#include\s*<(?:string|vector|memory|iostream|map)>)",
    re.M,
)
_SHEBANG = re.compile(rb"^#![ \t]*(\S+)(?:[ \t]+(.*))?")


def language_from_shebang(head: bytes) -> str | None:
    """Language named by a ``#!`` line (``#!/usr/bin/env python3``, ``#!/usr/bin/node``)."""
    m = _SHEBANG.match(head.split(b"\n", 1)[0].rstrip(b"\r"))
    if not m:
        return None
    prog = m.group(1).decode("latin-1").rsplit("/", 1)[-1]
    if prog == "env" and m.group(2):
        args = [a for a in m.group(2).decode("latin-1").split() if not a.startswith("-")]
        if not args:
            return None
        prog = args[0]
    prog = prog.lower()
    if prog in _BY_INTERPRETER:
        return _BY_INTERPRETER[prog]
    # python3.11, pypy3.10 ...
    base = re.sub(r"[\d.]+$", "", prog)
    return _BY_INTERPRETER.get(base)


def shebang_parser(path: str | Path) -> str | None:
    """'code' when an extensionless file starts with a shebang naming a supported language."""
    if Path(path).suffix:
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return None
    return "code" if language_from_shebang(head) else None


def resolve_language(name: str) -> str | None:
    """A language name, alias or file extension -> the language name, or None."""
    key = name.strip().lower()
    if key in LANGUAGES:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    ext = key if key.startswith(".") else "." + key
    return _BY_EXTENSION.get(ext)


def language_for(
    source: str, data: bytes, explicit: str | None = None, hint: str | None = None
) -> str:
    """Language of a file: its extension, a shebang, then --language (``explicit``), then an
    extension given as --format-hint (``hint``; for stdin and files without a code extension)."""
    explicit_lang = resolve_language(str(explicit)) if explicit else None
    if explicit and explicit_lang is None:
        raise ParseError(f"unknown source language {explicit!r}; supported: {', '.join(LANGUAGES)}")
    suffix = Path(source).suffix.lower()
    if suffix == ".h" and _CPP_HEADER.search(data[:65536]):
        return "cpp"
    if suffix in _BY_EXTENSION:
        return _BY_EXTENSION[suffix]
    lang = language_from_shebang(data[:256])
    if lang:
        return lang
    if explicit_lang:
        return explicit_lang
    if hint and hint != "code":
        lang = resolve_language(str(hint))
        if lang:
            return lang
    raise ParseError(
        "cannot tell the source language (no known extension or shebang); "
        "pass --language or --format-hint with an extension such as py"
    )


# -- tree-sitter ---------------------------------------------------------------------------------


@functools.cache
def get_language(name: str) -> Any:
    import importlib

    import tree_sitter

    spec = LANGUAGES[name]
    mod = importlib.import_module(spec.module)
    return tree_sitter.Language(getattr(mod, spec.function)())


@functools.cache
def _get_parser(name: str) -> Any:
    import tree_sitter

    return tree_sitter.Parser(get_language(name))


@functools.cache
def _get_query(name: str) -> Any:
    import tree_sitter

    spec = LANGUAGES[name]
    patterns = [f"({t}) @{kind}" for t, kind in spec.definitions.items()]
    patterns += [f"({t}) @import" for t in spec.imports]
    patterns += [f"({t}) @comment" for t in spec.comments]
    if name == "python":
        patterns.append("(module . (expression_statement (string) @docstring))")
        patterns.append("(block . (expression_statement (string) @docstring))")
    return tree_sitter.Query(get_language(name), "\n".join(patterns) + spec.extra_patterns)


class ByteMap:
    """UTF-8 byte offsets of one text -> character offsets."""

    def __init__(self, text: str, data: bytes) -> None:
        self.ascii = len(data) == len(text)
        self._prefix: Any = None
        if not self.ascii:
            import numpy as np

            raw = np.frombuffer(data, dtype=np.uint8)
            is_start = (raw & 0xC0) != 0x80
            prefix = np.zeros(len(raw) + 1, dtype=np.int64)
            np.cumsum(is_start, out=prefix[1:])
            self._prefix = prefix

    def __call__(self, byte: int) -> int:
        if self.ascii:
            return byte
        return int(self._prefix[byte])


# Files over SEGMENT_BYTES are parsed window by window (WINDOW_BYTES of source each) instead of
# as one tree: tree-sitter's tree takes ~70 bytes of memory per byte of source (390 MB for a
# 5.7 MB minified file), held for the whole document. Module attributes so tests can shrink them.
SEGMENT_BYTES = 1 << 19
WINDOW_BYTES = 1 << 17

# Grammars checked to give the same top-level nodes window by window as whole (every brace
# language's truncated statement is a syntax error). Not Python: a class cut after one of its
# methods is still valid code; not PHP: a window after the first has no open tag.
_SEGMENTED = frozenset({"javascript", "c", "cpp"})


class Unsegmentable(Exception):
    """A windowed parse met a syntax error: only the whole-file tree is trusted then."""


@dataclass
class ParsedSource:
    """A syntax tree with the text it was built from.

    A large file holds no tree (``tree`` is None until a fallback): its top-level nodes come from
    :meth:`top_level`, one window of the file parsed at a time. A window's last two top-level
    nodes are dropped (the next window starts at the first of them), so each node kept was
    followed in its window by a complete sibling: the parser had finished it exactly as it does
    in the whole file. Any syntax error voids that argument, and the whole file is parsed
    instead (:class:`Unsegmentable` tells the caller to start over on ``tree``).
    """

    language: str
    text: str
    data: bytes
    tree: Any
    chars: ByteMap
    # (start byte, cut byte, end byte) of each window; its top-level nodes starting before the
    # cut are kept. Filled by the first pass over the file and replayed by later ones.
    windows: list[tuple[int, int, int]] | None = None
    # Recorded by the first pass: index of each window's first top-level node; the nodes' types
    # and (start byte, end byte), two numbers each.
    _firsts: list[int] | None = None
    _tops: tuple[list[str], Any] | None = None
    _newlines: Any = None  # byte offsets of the line breaks, for TopNode points
    # The window last parsed again for a TopNode: (index, root node).
    _window: tuple[int, Any] | None = None

    @property
    def root(self) -> Any:
        if self.tree is None:
            self.tree = _get_parser(self.language).parse(self.data)
        return self.tree.root_node

    @property
    def segmented(self) -> bool:
        return self.tree is None

    def top_level(self) -> Iterator[Any]:
        """The root's children in order: after a first pass over the file, light stand-ins
        (:class:`TopNode`) that parse their window again only when their children are asked
        for; before it, the nodes of each window's tree, released once no longer referenced."""
        if self._tops is None:
            for _, kids, _ in self.window_trees():
                yield from kids
            return
        types, nums = self._tops
        for i, typ in enumerate(types):
            yield TopNode(self, i, typ, nums[2 * i], nums[2 * i + 1])

    def point(self, byte: int) -> tuple[int, int]:
        """(row, byte column) of a byte offset, as tree-sitter gives them."""
        import numpy as np

        if self._newlines is None:
            self._newlines = np.flatnonzero(np.frombuffer(self.data, dtype=np.uint8) == 10)
        row = int(np.searchsorted(self._newlines, byte)) if len(self._newlines) else 0
        return row, byte - (int(self._newlines[row - 1]) + 1 if row else 0)

    def top_node(self, index: int) -> Any:
        """The tree-sitter node of the ``index``-th top-level node (its window parsed again)."""
        assert self.windows is not None and self._firsts is not None
        w = bisect.bisect_right(self._firsts, index) - 1
        if self._window is None or self._window[0] != w:
            import tree_sitter

            start, _, end = self.windows[w]
            parser = tree_sitter.Parser(get_language(self.language))
            points = _Points(self.data)
            parser.included_ranges = [tree_sitter.Range(points(start), points(end), start, end)]
            self._window = (w, parser.parse(self.data).root_node)
        return self._window[1].children[index - self._firsts[w]]

    def window_trees(self) -> Iterator[tuple[Any, list[Any], int]]:
        """(root of the window's tree, its top-level nodes kept, window start byte) in order.
        The first pass chooses the windows and records the top-level nodes' types and places."""
        import array

        import tree_sitter

        data = self.data
        parser = tree_sitter.Parser(get_language(self.language))
        plan = self.windows
        known = plan is not None
        windows: list[tuple[int, int, int]] = []
        firsts: list[int] = []
        types: list[str] = []
        nums = array.array("i" if len(data) < 2**31 else "q")
        points = _Points(data)
        start, size, i = 0, WINDOW_BYTES, 0
        while start < len(data):
            if known:
                assert plan is not None
                if i >= len(plan):
                    break
                start, cut, end = plan[i]
                i += 1
            else:
                end = min(len(data), start + size)
            parser.included_ranges = [tree_sitter.Range(points(start), points(end), start, end)]
            root = parser.parse(data).root_node
            kids = root.children
            if not known:
                if end == len(data):
                    if root.has_error:
                        self._fall_back()
                    cut = end + 1
                else:
                    kept = len(kids) - 2
                    # An error near the window's end may be the cut itself: widen the window
                    # until it reaches the end of the file, where errors are real.
                    # (An ERROR root holds pieces of a failed parse, each maybe error-free.)
                    if kept < 1 or root.is_error or any(k.has_error for k in kids[: kept + 1]):
                        size *= 2
                        continue
                    cut = kids[kept].start_byte
                windows.append((start, cut, end))
            kept_kids = [kid for kid in kids if kid.start_byte < cut]
            if not known:
                firsts.append(len(types))
                for kid in kept_kids:
                    types.append(sys.intern(kid.type))
                    nums.extend((kid.start_byte, kid.end_byte))
            yield root, kept_kids, start
            del kids, root, kept_kids
            if not known:
                start, size = cut, WINDOW_BYTES
        if not known:
            self.windows = windows
            self._firsts = firsts
            self._tops = (types, nums)

    def _fall_back(self) -> None:
        self.windows = None
        self.tree = _get_parser(self.language).parse(self.data)
        raise Unsegmentable


class TopNode:
    """A top-level node of a segmented parse without its tree: type and place, and the real
    node's children (its window parsed again) only when asked for them."""

    __slots__ = (
        "_index",
        "_node",
        "_parsed",
        "end_byte",
        "start_byte",
        "type",
    )

    def __init__(self, parsed: ParsedSource, index: int, typ: str, sb: int, eb: int) -> None:
        self._parsed = parsed
        self._index = index
        self._node: Any = None
        self.type = typ
        self.start_byte = sb
        self.end_byte = eb

    # (row, byte column) on demand: only comments' adjacency asks for them.
    @property
    def start_point(self) -> tuple[int, int]:
        return self._parsed.point(self.start_byte)

    @property
    def end_point(self) -> tuple[int, int]:
        return self._parsed.point(self.end_byte)

    @property
    def node(self) -> Any:
        if self._node is None:
            self._node = self._parsed.top_node(self._index)
        return self._node

    @property
    def children(self) -> list[Any]:
        return list(self.node.children)

    def field_name_for_child(self, i: int) -> str | None:
        name: str | None = self.node.field_name_for_child(i)
        return name


class _Points:
    """(row, byte column) of byte offsets asked for in increasing order, as tree-sitter counts
    them; counting lines from the last offset keeps a pass over the file linear."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.byte = self.row = self.line_start = 0

    def __call__(self, byte: int) -> tuple[int, int]:
        if byte < self.byte:  # a window starts before the last one ended
            back = self.data.count(b"\n", byte, self.byte)
            if back:
                self.row -= back
                self.line_start = self.data.rfind(b"\n", 0, byte) + 1
            self.byte = byte
        self.row += self.data.count(b"\n", self.byte, byte)
        self.line_start = max(self.line_start, self.data.rfind(b"\n", self.byte, byte) + 1)
        self.byte = byte
        return self.row, byte - self.line_start


# One-entry cache: the pipeline parses a document and chunks it right after, in the same process.
_LAST: list[ParsedSource] = []


def parse_tree(text: str, language: str) -> ParsedSource:
    """The tree-sitter tree of ``text``; reuses the tree just built by CodeParser for it."""
    if _LAST and _LAST[0].text is text and _LAST[0].language == language:
        return _LAST[0]
    data = text.encode("utf-8", "surrogatepass")
    segment = len(data) > SEGMENT_BYTES and language in _SEGMENTED
    tree = None if segment else _get_parser(language).parse(data)
    parsed = ParsedSource(language, text, data, tree, ByteMap(text, data))
    _LAST[:] = [parsed]
    return parsed


# -- elements ------------------------------------------------------------------------------------


def _node_text(parsed: ParsedSource, node: Any) -> str:
    return parsed.data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _c_declarator_name(parsed: ParsedSource, node: Any) -> str | None:
    """The declared name inside a C/C++ declarator chain (pointer, reference, function...)."""
    cur = node
    for _ in range(16):
        if cur is None:
            return None
        if cur.type in (
            "identifier",
            "field_identifier",
            "type_identifier",
            "qualified_identifier",
            "destructor_name",
            "operator_name",
        ):
            return _node_text(parsed, cur)
        nxt = cur.child_by_field_name("declarator")
        if nxt is None:
            named = [c for c in cur.named_children if c.type != "parameter_list"]
            nxt = named[0] if named else None
        cur = nxt
    return None


def definition_name(parsed: ParsedSource, node: Any) -> str:
    lang = parsed.language
    if lang in ("c", "cpp") and node.type in ("function_definition", "type_definition"):
        name = _c_declarator_name(parsed, node.child_by_field_name("declarator"))
        return name or "<anonymous>"
    if node.type == "impl_item":
        typ = node.child_by_field_name("type")
        trait = node.child_by_field_name("trait")
        base = _node_text(parsed, typ) if typ is not None else "?"
        return f"{_node_text(parsed, trait)} for {base}" if trait is not None else base
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return "companion" if node.type == "companion_object" else "<anonymous>"
    return " ".join(_node_text(parsed, name_node).split())


def _receiver_type(parsed: ParsedSource, node: Any) -> str | None:
    recv = node.child_by_field_name("receiver")
    if recv is None:
        return None
    m = re.search(r"([A-Za-z_]\w*)(?:\[[^\]]*\])?\s*\)\s*$", _node_text(parsed, recv))
    return m.group(1) if m else None


def _wrapped_start(spec: LanguageSpec, node: Any) -> Any:
    """The outermost wrapper that belongs to ``node`` (decorators, ``export``, ``template<>``)."""
    top = node
    parent = node.parent
    while parent is not None and parent.type in spec.wrappers:
        # A declaration with several declarators belongs to none of them.
        declarators = [c for c in parent.named_children if c.type == "variable_declarator"]
        if len(declarators) > 1:
            break
        top = parent
        parent = parent.parent
    return top


@dataclass(slots=True)
class _Def:
    kind: str
    name: str
    start: int
    end: int
    start_byte: int
    end_byte: int
    line_start: int
    line_end: int
    receiver: str | None = None


def extract_elements(parsed: ParsedSource) -> list[Element]:
    """Module, definitions, import blocks, comments and docstrings of one syntax tree."""
    spec = LANGUAGES[parsed.language]
    text = parsed.text
    # Candidates by capture name, names in order of first appearance (as one query over the
    # whole tree returns them): the first capture of an outer node wins it.
    found: dict[str, list[tuple[tuple[int, int], _Def | None]]] = {}
    others: list[tuple[str, _Span]] = []
    try:
        if parsed.segmented:
            for root, kids, start in parsed.window_trees():
                if kids:
                    _collect(parsed, spec, root, kids[-1].end_byte, start > 0, found, others)
        else:
            _collect(parsed, spec, parsed.root, len(parsed.data) + 1, False, found, others)
    except Unsegmentable:
        found.clear()
        others.clear()
        _collect(parsed, spec, parsed.root, len(parsed.data) + 1, False, found, others)
    defs: list[_Def] = []
    seen: set[tuple[int, int]] = set()
    for candidates in found.values():
        for key, d in candidates:
            if key not in seen:
                seen.add(key)
                assert d is not None
                defs.append(d)
    defs.sort(key=lambda d: (d.start_byte, -d.end_byte))

    elements: list[Element] = [
        Element(
            "module",
            0,
            len(text),
            attrs={
                "language": parsed.language,
                "name": "module",
                "path": "module",
                "scope": [],
                "line_start": 1,
                "line_end": text.count("\n") + (0 if text.endswith("\n") else 1),
            },
        )
    ]
    stack: list[tuple[_Def, str, str]] = []  # (def, label, qualified symbol)
    labels: list[str] = []
    for d in defs:
        while stack and stack[-1][0].end_byte <= d.start_byte:
            stack.pop()
        kind = d.kind
        if kind == "function" and stack and stack[-1][0].kind in _CLASSLIKE:
            kind = "method"
        word = spec.words.get(kind, kind)
        label = f"{word} {d.name}"
        owner = d.receiver or (stack[-1][2] if stack else None)
        base = _symbol_base(d.name)
        symbol = f"{owner}.{base}" if owner and "::" not in base else base
        scope = [s[1] for s in stack] + [label]
        labels.append(label)
        elements.append(
            Element(
                kind,
                d.start,
                d.end,
                attrs={
                    "name": d.name,
                    "symbol": symbol,
                    "scope": scope,
                    "path": " > ".join(["module", *scope]),
                    "line_start": d.line_start,
                    "line_end": d.line_end,
                },
            )
        )
        stack.append((d, label, symbol))

    elements.extend(_blocks(parsed, others, defs, labels))
    elements.sort(key=lambda e: (e.start, -e.end))
    return elements


class _Span(NamedTuple):
    """Where a captured comment, import or docstring node is (the node's tree may be gone)."""

    start_byte: int
    end_byte: int
    start_point: tuple[int, int]
    end_point: tuple[int, int]


def _collect(
    parsed: ParsedSource,
    spec: LanguageSpec,
    root: Any,
    stop: int,
    inner: bool,
    found: dict[str, list[tuple[tuple[int, int], _Def | None]]],
    others: list[tuple[str, _Span]],
) -> None:
    """Query captures of ``root`` starting before byte ``stop``, as definition candidates (in
    ``found``) and comment/import/docstring spans (in ``others``). ``inner``: ``root`` is a
    window that does not start the file, whose first statement is no module docstring."""
    import tree_sitter

    ch = parsed.chars
    captures: dict[str, list[Any]] = tree_sitter.QueryCursor(_get_query(parsed.language)).captures(
        root
    )
    for cap, nodes in captures.items():
        out = found.setdefault(cap, [])
        for node in nodes:
            if node.start_byte >= stop:
                continue
            if cap in ("import", "comment", "docstring"):
                if cap == "docstring" and inner and node.parent.parent == root:
                    continue
                others.append(
                    (
                        cap,
                        _Span(node.start_byte, node.end_byte, node.start_point, node.end_point),
                    )
                )
                continue
            outer = _wrapped_start(spec, node)
            key = (outer.start_byte, outer.end_byte)
            kind = cap
            if node.type == "class_declaration":
                # Swift and Kotlin write struct/enum/extension/interface as class_declaration.
                kind = _declared_kind(node, cap)
            if node.type == "type_spec":
                typ = node.child_by_field_name("type")
                if typ is not None and typ.type == "struct_type":
                    kind = "struct"
                elif typ is not None and typ.type == "interface_type":
                    kind = "interface"
            out.append(
                (
                    key,
                    _Def(
                        kind=kind,
                        name=definition_name(parsed, node),
                        start=ch(outer.start_byte),
                        end=ch(outer.end_byte),
                        start_byte=outer.start_byte,
                        end_byte=outer.end_byte,
                        line_start=outer.start_point[0] + 1,
                        line_end=_last_line(outer),
                        receiver=_receiver_type(parsed, node)
                        if node.type == "method_declaration"
                        else None,
                    ),
                )
            )


_DECLARED_KINDS = {
    "struct": "struct",
    "enum": "enum",
    "extension": "extension",
    "interface": "interface",
    "actor": "class",
}


def _declared_kind(node: Any, default: str) -> str:
    """The keyword of a Swift/Kotlin ``class_declaration`` (``struct``, ``enum class``...)."""
    declared = node.child_by_field_name("declaration_kind")
    words = [declared.type] if declared is not None else []
    words += [c.type for c in node.children[:3]]
    for word in words:
        if word in _DECLARED_KINDS:
            return _DECLARED_KINDS[word]
        if word == "modifiers":
            continue
    return default


def _symbol_base(name: str) -> str:
    """``Lexer<'a>`` -> ``Lexer``; ``Iterator for Lexer<'a>`` -> ``Lexer`` (an impl's type)."""
    name = name.rsplit(" for ", 1)[-1]
    if "<" not in name:  # the usual case, without a regex call per definition
        return name.strip() or name
    return re.sub(r"<.*>$", "", name).strip() or name


def _last_line(node: Any) -> int:
    row, col = node.end_point
    # A node ending right after a newline ends on the previous line.
    return row if col == 0 and row > node.start_point[0] else row + 1


def _blocks(
    parsed: ParsedSource,
    nodes: Iterable[tuple[str, Any]],
    defs: Sequence[_Def],
    labels: Sequence[str],
) -> list[Element]:
    """Imports and comments merged into blocks of adjacent lines, plus docstrings."""
    ch = parsed.chars
    data = parsed.data
    starts = [d.start_byte for d in defs]
    out: list[Element] = []
    pending: dict[str, list[Any]] = {"import": [], "comment": []}

    # Enclosing definitions of a position, found with a stack that moves forward with the
    # (mostly increasing) positions asked for; it restarts when one goes backwards.
    open_defs: list[int] = []
    cursor = [0, -1]  # next definition to consider, last position asked for

    def scope_at(byte: int) -> list[str]:
        if byte < cursor[1]:
            open_defs.clear()
            cursor[0] = 0
        cursor[1] = byte
        i = bisect.bisect_right(starts, byte)
        while cursor[0] < i:
            j = cursor[0]
            while open_defs and defs[open_defs[-1]].end_byte <= defs[j].start_byte:
                open_defs.pop()
            open_defs.append(j)
            cursor[0] += 1
        return [labels[k] for k in open_defs if defs[k].end_byte > byte]

    def element(kind: str, first: Any, last: Any, **attrs: Any) -> Element:
        """The element of the nodes ``first`` to ``last``, with their lines and scope."""
        where = {
            "line_start": first.start_point[0] + 1,
            "line_end": _last_line(last),
            "scope": scope_at(first.start_byte),
        }
        return Element(kind, ch(first.start_byte), ch(last.end_byte), attrs={**where, **attrs})

    def flush(kind: str) -> None:
        run = pending[kind]
        if not run:
            return
        out.append(element(kind, run[0], run[-1], count=len(run)))
        run.clear()

    for cap, node in sorted(nodes, key=lambda cn: cn[1].start_byte):
        if cap == "docstring":
            for k in pending:
                flush(k)
            out.append(element("docstring", node, node))
            continue
        other = "comment" if cap == "import" else "import"
        flush(other)
        run = pending[cap]
        if run:
            gap = data[run[-1].end_byte : node.start_byte]
            contiguous = not gap.strip() and gap.count(b"\n") <= (1 if cap == "comment" else 2)
            if not contiguous:
                flush(cap)
        run.append(node)
    for k in pending:
        flush(k)
    return out


def syntax_errors(parsed: ParsedSource, limit: int = 5) -> tuple[int, list[int]]:
    """Number of ERROR/MISSING nodes and the first few lines they are on."""
    if parsed.segmented and parsed.windows is not None:
        return 0, []  # every window parsed cleanly, or the whole file would have been
    root = parsed.root
    if not root.has_error:
        return 0, []
    count = 0
    lines: list[int] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
            if len(lines) < limit:
                lines.append(node.start_point[0] + 1)
            continue
        if node.has_error:
            stack.extend(reversed(node.children))
    return count, sorted(lines)


class CodeParser(BaseParser):
    name = "code"
    extensions = EXTENSIONS
    default_chunker = "cast"
    options_class = CodeOptions
    options: CodeOptions

    def parse_bytes(self, data: bytes, source: str) -> Document:
        language = language_for(source, data, self.options.language)
        # An empty module (__init__.py) is a valid source file with nothing to chunk.
        text, encoding = decode_text(data, allow_empty=True)
        parsed = parse_tree(text, language)
        elements = extract_elements(parsed)
        n_errors, error_lines = syntax_errors(parsed)
        meta: dict[str, Any] = {
            "language": language,
            "encoding": encoding,
            "mime": f"text/x-{language}",
            "n_lines": elements[0].attrs["line_end"],
            "n_definitions": sum(
                1 for e in elements if e.kind not in ("module", "import", "comment", "docstring")
            ),
            "syntax_errors": n_errors,
        }
        if n_errors:
            meta["error_lines"] = error_lines
            log.warning(
                "%s: %d syntax error(s) (first on line %d); chunked with tree-sitter's error "
                "recovery",
                source,
                n_errors,
                error_lines[0],
            )
        return self.document(data, source, text, elements, meta)
