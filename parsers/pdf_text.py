"""Text of PDF lines from positioned pieces, shared by the PDF parser and the vision chunker's
layout reader, so both give the same words for the same page.

A line arrives as pieces (spans, or characters on right-to-left pages), each with its text and
its box on the page. ``line_text`` puts them in logical order and joins them:

- **Spaces from gaps.** A PDF need not contain space characters: mupdf adds them where glyphs
  stand apart, as separate whitespace spans that pymupdf4llm's line builder throws away. A gap
  wider than ``GAP_EM`` of the font size between two pieces is a space.
- **Right-to-left lines.** Hebrew, Arabic and Persian text may be stored in logical order or in
  visual order (glyphs left to right, as older producers write them); positions do not lie. The
  pieces are put in visual order by their x, and the inverse of the Unicode bidi reordering
  (rule L2) gives the logical order back: right-to-left runs read from the right, numbers and
  Latin words inside them from the left. The base direction is that of the majority of strong
  characters, so an English sentence with one Hebrew name stays left to right.
- **Arabic presentation forms** (the shaped glyphs some producers map back to Unicode) become the
  letters they show (NFKC), as they are typed: ``ﺍﻟﻘﺎﻫﺮﺓ`` -> ``القاهرة``.

``join_lines`` joins the lines of one paragraph (a word hyphenated at a line end is joined again).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from chunkwise.types import BBox

# A gap wider than this fraction of the font size between two pieces of a line is a space:
# word spaces are 0.2-0.35 em, kerning and font changes inside a word a few hundredths.
GAP_EM = 0.15

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_WS = re.compile(r"\s+")
_HYPHENS = ("-", "\u00ad", "\u2010")
_PRESENTATION = re.compile(r"[\ufb50-\ufdff\ufe70-\ufefe]")
# Hebrew, Arabic (with its supplements and extensions), Syriac, Thaana, NKo, and the Hebrew and
# Arabic presentation forms.
RTL_CHARS = re.compile(
    r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefe\U00010800-\U00010fff\U0001e800-\U0001efff]"
)
_R, _L, _EN, _N = "R", "L", "EN", "N"


def clean(s: str) -> str:
    """Control characters dropped, whitespace runs made one space, presentation forms undone."""
    s = _WS.sub(" ", _CONTROL.sub("", s)).strip()
    if _PRESENTATION.search(s):
        s = _PRESENTATION.sub(lambda m: unicodedata.normalize("NFKC", m.group()), s)
    return s


def join_lines(lines: Sequence[str], dehyphenate: bool = True) -> str:
    """Lines of one paragraph joined by spaces; a word split by a hyphen at a line end is joined
    again when the next line goes on in lower case (``infor-`` + ``mation``)."""
    out = ""
    for ln in lines:
        if not ln:
            continue
        if not out:
            out = ln
        elif (
            dehyphenate
            and out.endswith(_HYPHENS)
            and len(out) > 1
            and out[-2].isalpha()
            and ln[:1].islower()
        ):
            out = out[:-1] + ln
        else:
            out = out + " " + ln
    return out


@dataclass
class Piece:
    """A span or a character of one line: its text, box and font size."""

    text: str
    bbox: BBox
    size: float
    # Characters of one mupdf line share a ``run``: mupdf already put the spaces between them.
    run: int = -1


def has_rtl(text: str) -> bool:
    return RTL_CHARS.search(text) is not None


def _klass(text: str) -> str:
    r = l_ = digits = 0
    for ch in text:
        bidi = unicodedata.bidirectional(ch)
        if bidi in ("R", "AL"):
            r += 1
        elif bidi == "L":
            l_ += 1
        elif bidi in ("EN", "AN"):
            digits += 1
    if r or l_:
        return _R if r >= l_ else _L
    return _EN if digits else _N


def line_text(pieces: Sequence[Piece], rtl: bool | None = None) -> str:
    """The logical text of one line (cleaned; see the module docstring). ``rtl``: the direction
    of the text around the line (its page), which decides when the line's own strong
    characters are about evenly split between the two directions."""
    if not pieces:
        return ""
    if not any(has_rtl(p.text) for p in pieces):
        return clean(_join(pieces))
    return clean(_join(logical_order(pieces, rtl)))


def _join(pieces: Sequence[Piece]) -> str:
    parts: list[str] = []
    prev: Piece | None = None
    for p in pieces:
        if not p.text:
            continue
        if (
            prev is not None
            and (p.run < 0 or p.run != prev.run)
            and not parts[-1][-1:].isspace()
            and not p.text[:1].isspace()
        ):
            # Pieces arrive in logical order; on a right-to-left line the next piece stands to
            # the left of the previous one, so the gap is measured on whichever side it is.
            gap = max(p.bbox[0] - prev.bbox[2], prev.bbox[0] - p.bbox[2])
            if gap > GAP_EM * max(min(p.size, prev.size), 1.0):
                parts.append(" ")
        parts.append(p.text)
        prev = p
    return "".join(parts)


def logical_order(pieces: Sequence[Piece], rtl: bool | None = None) -> list[Piece]:
    """Pieces of one line in logical order, from their positions (inverse of bidi rule L2)."""
    visual: list[Piece] = []
    for p in sorted(pieces, key=lambda p: (p.bbox[0] + p.bbox[2]) / 2):
        if not p.text:
            continue
        prev = visual[-1] if visual else None
        if (
            prev is not None
            and (p.run < 0 or p.run != prev.run)
            and not prev.text[-1:].isspace()
            and not p.text[:1].isspace()
            and p.bbox[0] - prev.bbox[2] > GAP_EM * max(min(p.size, prev.size), 1.0)
        ):
            # A gap is a space, and a space is a neutral that the reordering must see.
            visual.append(Piece(" ", (prev.bbox[2], prev.bbox[1], p.bbox[0], p.bbox[3]), p.size))
        visual.append(p)
    kinds = [_klass(p.text) for p in visual]
    _number_parts(visual, kinds)
    strong_r = sum(len(p.text) for p, k in zip(visual, kinds, strict=True) if k == _R)
    strong_l = sum(len(p.text) for p, k in zip(visual, kinds, strict=True) if k == _L)
    if rtl is None or max(strong_r, strong_l) >= 2 * min(strong_r, strong_l):
        rtl = strong_r > strong_l
    levels = _levels(kinds, rtl)
    order = list(range(len(visual)))
    # Rule L2 reverses runs from the highest level down to 1; undoing it reverses from 1 up.
    for k in range(1, max(levels, default=0) + 1):
        i = 0
        while i < len(order):
            if levels[order[i]] >= k:
                j = i
                while j < len(order) and levels[order[j]] >= k:
                    j += 1
                order[i:j] = order[i:j][::-1]
                i = j
            else:
                i += 1
    return [visual[i] for i in order]


def _number_parts(pieces: list[Piece], kinds: list[str]) -> None:
    """Separators and signs of a number read with its digits (bidi rules W4, W5): ``12.5%``,
    ``1,000``, ``$30`` stay one left-to-right island."""
    sub = [unicodedata.bidirectional(p.text) if len(p.text) == 1 else "" for p in pieces]
    n = len(kinds)
    for i in range(1, n - 1):
        if kinds[i] == _N and sub[i] in ("CS", "ES") and kinds[i - 1] == kinds[i + 1] == _EN:
            kinds[i] = _EN
    for i in range(n):
        if kinds[i] != _EN:
            continue
        for step in (-1, 1):
            j = i + step
            while 0 <= j < n and kinds[j] == _N and sub[j] == "ET":
                kinds[j] = _EN
                j += step


def _levels(kinds: list[str], rtl: bool) -> list[int]:
    """Embedding levels of the pieces: a simplified Unicode bidi resolution. Right-to-left text
    is level 1; left-to-right text is level 2 on a right-to-left line, 0 on a left-to-right one;
    digits are a left-to-right island (level 2) except after left-to-right text on a
    left-to-right line; a neutral between two pieces of one direction takes it, digits counting
    as right to left there (rule N1), and any other neutral takes the line's direction."""
    n = len(kinds)

    def strong(i: int, step: int, digits_as_r: bool) -> str | None:
        j = i + step
        while 0 <= j < n:
            k = kinds[j]
            if k in (_R, _L):
                return k
            if digits_as_r and k == _EN:
                # Digits after a left-to-right word belong to it (rule W7: "UN 2023", "Windows
                # 10"); elsewhere they count as right to left (N1). On a right-to-left line the
                # two readings can give the same picture; W7's is the common one.
                return _L if rtl and strong(j, -1, False) == _L else _R
            j += step
        return None

    base = 1 if rtl else 0
    levels: list[int] = []
    for i, k in enumerate(kinds):
        if k == _R:
            level = 1
        elif k == _L:
            level = 2 if rtl else 0
        elif k == _EN:
            if rtl:
                level = 2
            else:
                left, right = strong(i, -1, False), strong(i, 1, False)
                level = 0 if left == _L or (left is None and right != _R) else 2
        else:
            left, right = strong(i, -1, True), strong(i, 1, True)
            if left is not None and left == right:
                level = 1 if left == _R else (2 if rtl else 0)
            else:
                level = base
        levels.append(level)
    return levels
