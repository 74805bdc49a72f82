"""Does a learned boundary classifier beat the legal splitter's rules on a court it never saw?

The experiment: a small L2-regularised logistic regression over character-context features of
every in-line candidate the rule layer considers (a terminator, its closing quotes/brackets/footnote
marks, whitespace, a visible character), as CharBoundary does, with the rules' own decision as one
feature, plugged into ``sentence_spans(decide=...)``. The features are shapes and classes
(``Xxx.`` before ``dd``, the closer type, parenthesis depth, the next token's shape), plus the
lower-cased word only when it is in the abbreviation lists, so that it could transfer between
courts. Training is Newton's method on the full batch in sorted feature order: deterministic.

Leave-one-court-out on the MultiLegalSBD dev decisions: train on scotus, test on intellectual
property, and the reverse, each against the rules alone on the same test court. Result (see
benchmarks/RESULTS.md): the model never beats the rules out of court, so none ships.

    .venv/bin/python benchmarks/legal_sbd_learned.py --corpus ../shared/corpus/legal
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chunkwise.chunkers import legal_sbd as sbd
from chunkwise.chunkers.legal_sbd import inline_candidates, sentence_spans
from legal_sbd import CORPUS, Doc, evaluate, load

from chunkwise.spans import trim

_SHAPE_RUNS = re.compile(r"(.)\1{2,}")
_TOKEN_END = re.compile(r"[\w'’.&§-]*")
_VOWELS = frozenset("aeiouy")


def shape(word: str) -> str:
    """ "Compl" -> "Xxx", "U.S" -> "X.X", "12(b)" -> "dd(x)": case and digit classes, runs
    capped at two."""
    out = []
    for c in word[:12]:
        if c.isupper():
            out.append("X")
        elif c.islower():
            out.append("x")
        elif c.isdigit():
            out.append("d")
        else:
            out.append(c)
    return _SHAPE_RUNS.sub(r"\1\1", "".join(out))


def _char_class(c: str) -> str:
    if not c:
        return "none"
    if c.isupper():
        return "X"
    if c.islower():
        return "x"
    if c.isdigit():
        return "d"
    return c if c in "\"'“”‘’([§*¶&-—" else "p"


def features(text: str, line_start: int, line_end: int, m: re.Match[str], rule: bool) -> list[str]:
    """Feature names of one candidate, ``m`` a match of the splitter's candidate pattern."""
    mark_start, nxt_pos, closers = m.start(), m.start(2), m.group(1)
    word = sbd._word_before(text, line_start, mark_start)
    j = nxt_pos
    while j < line_end and (text[j].isalpha() or text[j] in "'’"):
        j += 1
    nxt_word = text[nxt_pos:j]
    abbreviation = sbd._is_abbreviation(word)
    never_final = word.lower() in sbd._NEVER_FINAL
    opener = nxt_word.lower() in sbd._OPENERS
    next_abbreviation = j < line_end and text[j] == "." and sbd._is_abbreviation(nxt_word)
    mark = text[mark_start]
    mk = "." if mark == "." else ("…" if mark == "…" else "!?")
    if closers:
        last = closers[-1]
        cl = (
            "q" if last in "\"'”’" else ("fn" if closers.endswith("]") and "[" in closers else last)
        )
    else:
        cl = ""
    low = word.lower()
    ws = shape(word)
    m = _TOKEN_END.match(text, nxt_pos, min(line_end, nxt_pos + 24))
    following = m.group() if m else ""
    ns = shape(following.rstrip("."))
    nc = _char_class(text[nxt_pos])
    wl = str(min(len(word), 8))
    seg = text[max(line_start, mark_start - 300) : mark_start]
    depth = seg.count("(") - seg.count(")")
    quotes = (seg.count('"') + seg.count("“") + seg.count("”")) % 2
    feats = [
        f"rule={int(rule)}",
        f"mark={mk}",
        f"cl={cl}",
        f"ws={ws}",
        f"wl={wl}",
        f"ns={ns}",
        f"nc={nc}",
        f"ws|ns={ws}|{ns}",
        f"ws|nc={ws}|{nc}",
        f"rule|ws={int(rule)}|{ws}",
        f"rule|nc={int(rule)}|{nc}",
        f"cl|nc={cl}|{nc}",
        f"mk|cl|nc={mk}|{cl}|{nc}",
        f"suf={low[-2:]}",
        f"vowel={int(any(c in _VOWELS for c in low))}",
        f"paren={int(depth > 0)}",
        f"quote={int(quotes == 1)}",
        f"pre={min((mark_start - line_start) // 8, 4)}",
        f"post={min((line_end - nxt_pos) // 16, 4)}",
        f"nend={int(following.endswith('.'))}",
    ]
    if abbreviation:
        feats.append("abbr")
        feats.append(f"w={low}")
        feats.append(f"abbr|nc={nc}")
    if never_final:
        feats.append("never")
    if opener:
        feats.append("opener")
    if next_abbreviation:
        feats.append("nabbr")
    return feats


class BoundaryModel:
    """Logistic regression over feature names: ``weights`` maps a name to its weight."""

    def __init__(self, weights: Mapping[str, float], bias: float, threshold: float = 0.5):
        self.weights = dict(weights)
        self.bias = bias
        # Decide on the logit: p > threshold <=> z > logit(threshold), no exp per candidate.
        self._cut = math.log(threshold / (1 - threshold))

    def logit(self, feats: list[str]) -> float:
        get = self.weights.get
        return self.bias + sum(get(f, 0.0) for f in feats)

    def __call__(self, text: str, a: int, b: int, m: re.Match[str], rule: bool) -> bool:
        """The ``decide`` hook of ``sentence_spans``."""
        return self.logit(features(text, a, b, m, rule)) > self._cut


L2 = 1.0  # ridge strength; weights of rare features stay near zero
MIN_COUNT = 2  # features seen once carry no evidence that transfers


def examples(docs: list[Doc]) -> tuple[list[list[str]], list[int]]:
    feats: list[list[str]] = []
    labels: list[int] = []
    for _, text, gold in docs:
        starts = {trim(text, a, b)[0] for a, b in gold}
        for a, b, m, rule in inline_candidates(text):
            feats.append(features(text, a, b, m, rule))
            labels.append(int(m.start(2) in starts))
    return feats, labels


def train(docs: list[Doc]) -> BoundaryModel:
    feats, labels = examples(docs)
    counts = Counter(f for fs in feats for f in set(fs))
    names = sorted(f for f, c in counts.items() if c >= MIN_COUNT)
    index = {f: i for i, f in enumerate(names)}
    x = np.zeros((len(feats), len(names) + 1))
    x[:, -1] = 1.0  # bias column, not regularised
    for r, fs in enumerate(feats):
        for f in fs:
            i = index.get(f)
            if i is not None:
                x[r, i] = 1.0
    y = np.asarray(labels, dtype=float)
    reg = np.full(len(names) + 1, L2)
    reg[-1] = 0.0
    w = np.zeros(len(names) + 1)
    for _ in range(30):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) + reg * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return BoundaryModel(dict(zip(names, map(float, w[:-1]), strict=True)), float(w[-1]))


def courts(corpus: Path) -> dict[str, list[Doc]]:
    parts = load(corpus)
    docs = parts["tune"] + parts["heldout"]
    return {
        "scotus": [d for d in docs if d[0].startswith("scotus")],
        "ip": [d for d in docs if d[0].startswith("intellectual")],
    }


def loco(corpus: Path) -> list[tuple[str, str, float, float, float]]:
    """(trained on, tested on, precision, recall, F1): rules alone, then the model, per court."""
    by_court = courts(corpus)
    everything = by_court["scotus"] + by_court["ip"]
    rows = []
    for train_on, test_on in (("scotus", "ip"), ("ip", "scotus"), ("both", "both")):
        test = everything if test_on == "both" else by_court[test_on]
        model = train(everything if train_on == "both" else by_court[train_on])
        rows.append(("rules only", test_on, *evaluate(sentence_spans, test)))
        label = "both (in-domain)" if train_on == "both" else train_on
        rows.append(
            (label, test_on, *evaluate(lambda t, d=model: sentence_spans(t, decide=d), test))
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    args = ap.parse_args(argv)
    print(f"{'model trained on':<18} {'test':<7} {'precision':>9} {'recall':>7} {'F1':>6}")
    for name, test, p, r, f in loco(args.corpus):
        print(f"{name:<18} {test:<7} {p:9.3f} {r:7.3f} {f:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
