from __future__ import annotations

from pathlib import Path

from chunkwise.walk import Rule, WalkOptions, ignored, walk


def _tree(root: Path, files: list[str]) -> None:
    for f in files:
        p = root / f
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")


def _rel(root: Path, opts: WalkOptions) -> list[str]:
    return [p.relative_to(root).as_posix() for p in walk(root, opts)]


def test_sorted_and_default_excludes(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        [
            "b.md",
            "a.txt",
            "sub/c.txt",
            "node_modules/x.md",
            ".git/HEAD",
            "build/o.txt",
            "sub/__pycache__/m.txt",
            "docs/building.md",
        ],
    )
    assert _rel(tmp_path, WalkOptions()) == ["a.txt", "b.md", "docs/building.md", "sub/c.txt"]
    everything = _rel(tmp_path, WalkOptions(default_excludes=False))
    assert "node_modules/x.md" in everything and "build/o.txt" in everything


def test_gitignore_rules_nested_and_negated(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        [
            "keep.txt",
            "drop.log",
            "important.log",
            "sub/a.txt",
            "sub/gen/b.txt",
            "sub/deep/c.tmp",
            "data/x.txt",
        ],
    )
    (tmp_path / ".gitignore").write_text("*.log\n!important.log\n/data/\n# comment\n\n")
    (tmp_path / "sub" / ".gitignore").write_text("gen/\n**/*.tmp\n")
    assert _rel(tmp_path, WalkOptions()) == [
        ".gitignore",
        "important.log",
        "keep.txt",
        "sub/.gitignore",
        "sub/a.txt",
    ]
    assert "drop.log" in _rel(tmp_path, WalkOptions(gitignore=False))


def test_glob_and_exclude_options(tmp_path: Path) -> None:
    _tree(tmp_path, ["a.md", "b.txt", "docs/c.md", "docs/old/d.md"])
    assert _rel(tmp_path, WalkOptions(include=["*.md"])) == ["a.md", "docs/c.md", "docs/old/d.md"]
    assert _rel(tmp_path, WalkOptions(include=["*.md"], exclude=["docs/old/"])) == [
        "a.md",
        "docs/c.md",
    ]
    assert _rel(tmp_path, WalkOptions(include=["docs/*.md"])) == ["docs/c.md"]


def test_rule_semantics() -> None:
    rules = [
        r for r in (Rule.parse("*.py[co]"), Rule.parse("doc/**/*.pdf"), Rule.parse("tmp/")) if r
    ]
    assert ignored(rules, "a/b.pyc", False)
    assert not ignored(rules, "a/b.py", False)
    assert ignored(rules, "doc/x/y/z.pdf", False) and ignored(rules, "doc/z.pdf", False)
    assert not ignored(rules, "other/doc/z.pdf", False)
    assert ignored(rules, "a/tmp", True) and not ignored(rules, "a/tmp", False)
    assert ignored(rules, "a/tmp/f.txt", False)


def test_walk_files_relative_paths_and_links(tmp_path: Path) -> None:
    from chunkwise.walk import walk_files

    _tree(tmp_path, ["a.txt", "sub/b.txt"])
    (tmp_path / "link.txt").symlink_to(tmp_path / "a.txt")
    found = list(walk_files(tmp_path, WalkOptions()))
    root = str(tmp_path)
    assert found == [(f"{root}/a.txt", "a.txt", False), (f"{root}/link.txt", "link.txt", True),
                     (f"{root}/sub/b.txt", "sub/b.txt", False)]  # fmt: skip


def test_sources_read_once_through_a_linked_folder(tmp_path: Path) -> None:
    """The real path of a walked file comes from the folder's real path and the file's relative
    path: a folder named both directly and through a symlink is read once, and so is a file
    also named on its own."""
    from chunkwise.pipeline import iter_sources

    real = tmp_path / "real"
    _tree(real, ["a.txt", "sub/b.txt"])
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    skipped: list[tuple[str, str]] = []
    sources = iter_sources(
        [str(tmp_path / "alias"), str(real), str(real / "sub" / "b.txt")],
        WalkOptions(),
        on_skip=lambda name, reason: skipped.append((Path(name).name, reason)),
    )
    assert [Path(s.name).name for s in sources] == ["a.txt", "b.txt"]
    assert skipped == [("a.txt", "duplicate"), ("b.txt", "duplicate"), ("b.txt", "duplicate")]


def test_folder_rules_decided_once_per_folder(tmp_path: Path) -> None:
    """Files meet only the file rules when no rule is negated; the walk finds what checking every
    rule for every file finds, with folder rules, nested .gitignore files and negations."""
    import random

    from chunkwise import walk as walk_module

    rng = random.Random(7)
    names = ["a.txt", "b.log", "build", "docs", "tmp", "x.md", "keep.log", "sub"]
    patterns = ["*.log", "build/", "tmp/", "docs/tmp/", "sub/x.md", "!keep.log", "/x.md", "*.md"]
    for trial in range(40):
        root = tmp_path / f"t{trial}"
        files = [
            "/".join(rng.choice(names) for _ in range(depth))
            for depth in (rng.randint(1, 4) for _ in range(12))
        ]
        for f in files:
            p = root / f
            if any(q.is_file() for q in [*p.parents][: len(p.relative_to(root).parts) - 1]):
                continue
            if p.is_dir():
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("x")
        lines = rng.sample(patterns, rng.randint(0, 4))
        (root / ".gitignore").write_text("\n".join(lines) + "\n")
        if (root / "sub").is_dir():
            (root / "sub" / ".gitignore").write_text(rng.choice(patterns) + "\n")
        opts = WalkOptions(exclude=tuple(rng.sample(patterns, rng.randint(0, 2))))
        fast = _rel(root, opts)
        every_rule = walk_module._Frame.file_ignored

        def slow(frame: walk_module._Frame, rel: str) -> bool:
            return ignored(frame.rules, rel, False)

        walk_module._Frame.file_ignored = slow  # type: ignore[method-assign]
        try:
            assert _rel(root, opts) == fast, (lines, opts.exclude)
        finally:
            walk_module._Frame.file_ignored = every_rule  # type: ignore[method-assign]
