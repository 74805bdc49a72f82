"""Legal text: court decisions, statutes and contracts in plain text.

``Document.text`` is the file verbatim. A structure pass (``legal_elements``), usable on the text of
any Document (PDF and HTML included), marks:

- headings: titles, parts, chapters, articles, sections (``ARTICLE IV``, ``Section 2.1``,
  ``§ 1983``, ``Art. III``), numbered headings (``4.2 Payment``), Roman-numeral and all-caps
  headings of opinions (``II.``, ``OPINION``); ``attrs.title`` is the short label used in heading
  paths (``["ARTICLE IV", "Section 4.2"]``), ``attrs.text`` the whole heading line;
- clauses: enumerated items ``(a)``, ``(1)``, ``(iv)``, ``(A)`` opening a line, with their level;
- definitions (``"Term" means ...``), recitals (``WHEREAS``, ``NOW, THEREFORE``), signature
  blocks (``IN WITNESS WHEREOF``, ``By:``/``Name:``/``Title:`` lines), footnotes (``[1] ...``);
- citations: cases (``Brown v. Board of Education, 347 U.S. 483, 495 (1954)``), statutes and
  regulations (``42 U.S.C. § 1983``, ``29 C.F.R. § 1910.1``, ``Pub. L. No. 90-351``), rules
  (``Fed. R. Civ. P. 12(b)(6)``) and short forms (``Id. at 5``, ``supra``), as ``citation``
  elements with ``attrs.type``.

``looks_legal`` is the cheap detector the text parser uses to hand legal-looking .txt files here.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from typing import Any

from chunkwise.parsing import BaseParser, decode_text, paragraph_elements
from chunkwise.types import Document, Element

# -- citations --------------------------------------------------------------------------------

# A reporter: one to four abbreviation tokens ("U.S.", "S. Ct.", "F. Supp. 2d", "F.3d", "L. Ed.
# 2d", "Ohio St.", "N.Y.") — always with at least one period, so "48 California, 36" is no case.
_REPORTER = r"(?:[A-Z][A-Za-z]{0,9}\.(?:\s?(?:[A-Z][A-Za-z]{0,9}\.|\d[a-z]{1,2}\b|[A-Z]{1,3}\b))*)"
_CASE = re.compile(
    r"\b\d{1,4}\s" + _REPORTER + r"(?:\s?\(\d[a-z]{1,2}\))?\s\d{1,5}"
    # Pin cites, but not the volume of a parallel citation ("347 U.S. 497, 74 S. Ct. 693").
    r"(?:,\s\d{1,5}(?:[-–]\d{1,5})?(?![\d\s]*[A-Z]))*(?:\s\([^()\n]{0,60}?\d{4}\))?"
)
_STATUTE = re.compile(
    r"\b\d{1,3}\s(?:U\.\s?S\.\s?C\.(?:\s?A\.)?|C\.\s?F\.\s?R\.|Stat\.)\s?(?:§§?\s?)?"
    r"\d[\w.\-–]*(?:\([\w]{1,4}\))*(?:(?:,\s?|\s?[-–]\s?)\d[\w.\-–]*(?:\([\w]{1,4}\))*)*"
    r"|\bPub\.\s?L\.\s?(?:No\.\s?)?\d{1,3}-\d{1,4}"
    r"|§§?\s?\d[\w.\-–]*(?:\([\w]{1,4}\))*"
)
_RULE = re.compile(
    r"\bFed\.\s?R\.\s?(?:Civ\.\s?P|Crim\.\s?P|App\.\s?P|Evid|Bankr\.\s?P)\.(?:\s\d{1,4}"
    r"(?:\([\w]{1,4}\))*)?"
    r"|\b(?:Rule|Rules)\s\d{1,4}(?:\.\d+)?(?:\([\w]{1,4}\))+"
)
_SHORT = re.compile(
    r"\b(?:Id|Ibid|id|ibid)\.(?:,?\sat\s\*?\d{1,5}(?:[-–]\d{1,5})?)?"
    r"|\bsupra(?:\snote\s\d{1,4})?(?:,\sat\s\d{1,5}(?:[-–]\d{1,5})?)?"
)
# The party names before a case's volume: "Brown v. Board of Education, ".
_PARTY_WORD = re.compile(r"[A-Z0-9&][\w.'’&-]*|of|the|and|for|in|re|ex|rel\.|de|la|on|et|al\.")
# Citation signals and sentence openers that precede a case name but are not part of it.
_SIGNAL_WORDS = frozenset(
    "See see Cf. cf. Compare compare Accord accord But but Contra contra E.g. e.g. Also also In "
    "Under In re Thus Following Citing citing Quoting quoting And The".split()
)
_CORPORATE = frozenset(
    "Inc. Inc Co. Corp. Ltd. LLC L.L.C. L.P. LLP N.A. S.A. P.C. Jr. Sr. et".split()
)
_V = re.compile(r"\s(?:v\.|vs\.)\s")


def citation_spans(text: str, start: int = 0, end: int | None = None) -> list[Element]:
    """Citations in text[start:end], in order, without overlaps (longest wins)."""
    end = len(text) if end is None else end
    found: list[tuple[int, int, int, str]] = []
    kinds = (("statute", _STATUTE), ("rule", _RULE), ("case", _CASE), ("short", _SHORT))
    for priority, (kind, rx) in enumerate(kinds):
        for m in rx.finditer(text, start, end):
            a, b = m.start(), m.end()
            while b > a and text[b - 1] in ",.; ":
                b -= 1
            typ = kind
            if kind == "case":
                a = _case_name_start(text, a, start)
                if "Stat." in m.group() or "U.S.C" in m.group():
                    typ = "statute"
            elif kind == "short":
                typ = "supra" if m.group().lower().startswith("supra") else "id"
            found.append((a, b, priority, typ))
    # Longest first at each start; on a tie the more specific pattern (statute) wins.
    found.sort(key=lambda t: (t[0], -(t[1] - t[0]), t[2]))
    out: list[Element] = []
    last = -1
    for a, b, _, kind in found:
        if a >= last:
            out.append(Element("citation", a, b, attrs={"type": kind}))
            last = b
    return out


def _case_name_start(text: str, vol: int, floor: int) -> int:
    """Extend a reporter citation back over "X v. Y, " when it directly precedes the volume."""
    lo = max(floor, vol - 160)
    before = text[lo:vol]
    if not before.endswith(", "):
        return vol
    ms = list(_V.finditer(before))
    if not ms:
        return vol
    v = ms[-1]
    tail = before[v.end() : -2]
    if "\n" in tail or ";" in tail or len(tail) > 100 or not tail[:1].isupper():
        return vol
    # Walk back over the first party's words: capitalised words and connectors.
    words = re.findall(r"\S+", before[: v.start()])
    keep = 0
    after = ""
    for w in reversed(words[-10:]):
        bare = w.rstrip(",")
        if w.endswith((";", ":")) or bare in _SIGNAL_WORDS:
            break
        if w.endswith(",") and keep and after not in _CORPORATE:
            # A comma ends the party name, except before "Inc." ("Ryder System, Inc. v. ...").
            break
        after = bare
        if not _PARTY_WORD.fullmatch(bare):
            break
        keep += 1
    if not keep:
        return vol
    # Strip leading connectors: the name starts at a capitalised word.
    kept = words[len(words) - keep :]
    while kept and not kept[0][:1].isupper() and not kept[0][:1].isdigit():
        kept.pop(0)
    if not kept:
        return vol
    idx = before.rfind(" ".join(kept), 0, v.start() + 1)
    return lo + idx if idx >= 0 else vol


# -- structure --------------------------------------------------------------------------------

_LINE = re.compile(r"[^\n]*")
_DIVISION = re.compile(
    r"(TITLE|Title|PART|Part|CHAPTER|Chapter|SUBCHAPTER|Subchapter|ARTICLE|Article|Art\.|ART\.)"
    r"\s+([IVXLCDM]+|\d+[A-Z]?|[A-Z])\b\.?"
)
_DIVISION_LEVEL = {
    "title": 1,
    "part": 2,
    "chapter": 2,
    "subchapter": 3,
    "article": 3,
    "art.": 3,
}
_SECTION = re.compile(
    r"(SECTION|Section|SEC\.|Sec\.|§{1,2})\s*(\d+(?:\.\d+)*[A-Za-z]?(?:-\d+)?)\b\.?"
)
_NUMBERED = re.compile(r"(\d{1,3}(?:\.\d{1,3})+|\d{1,3}\.)\s+([A-Z][^\n]{0,90})$")
_ROMAN = re.compile(r"([IVX]{1,6}|[A-H])\.\s*$|([IVX]{1,6})\.\s+([A-Z][^\n]{0,80})$")
_CLAUSE = re.compile(r"\(([a-z]{1,2}|\d{1,3}|[ivxlc]{1,6}|[A-Z]{1,2})\)(?=\s)")
_DEFINITION = re.compile(
    r"[\"“]([A-Z][\w'’\- ]{0,60})[\"”]\s+(?:shall\s+)?(?:means?|includes?|refers?\sto|"
    r"shall\s+have\s+the\s+meaning|has\s+the\s+meaning)\b"
)
_RECITAL = re.compile(r"(?:WHEREAS|Whereas|NOW,?\s+THEREFORE|Now,?\s+[Tt]herefore)\b")
_WITNESS = re.compile(r"IN\s+WITNESS\s+WHEREOF|In\s+[Ww]itness\s+[Ww]hereof")
_SIGNATURE_LINE = re.compile(r"(?:By|Name|Title|Its|Date|Signature|Witness)\s*:|/s/|_{5,}")
_FOOTNOTE = re.compile(r"(?:\[(\d{1,4}|\*{1,3})\]|(\d{1,3})\.?\s(?=[A-Z]))")
_ALLCAPS_HEADING = re.compile(r"[A-Z][A-Z &,'’\-]{2,60}")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}


def _clause_level(label: str, prev_letter: str | None) -> tuple[int, str]:
    """Level of an enumerator: (a)=1, (1)=2, (i)=3, (A)=4; (i) after (h) is a letter."""
    if label.isdigit():
        return 2, "number"
    if label.isupper():
        return 4, "upper"
    roman = all(c in _ROMAN_VALUES for c in label)
    if roman and not (
        prev_letter is not None and len(label) == 1 and ord(label) == ord(prev_letter) + 1
    ):
        return 3, "roman"
    return 1, "letter"


def legal_elements(text: str) -> tuple[list[Element], dict[str, Any]]:
    """The legal structure of ``text``: elements in reading order and document metadata."""
    from chunkwise.chunkers.legal_sbd import sentence_spans

    elements: list[Element] = []
    lines: list[tuple[int, int]] = []
    for m in _LINE.finditer(text):
        a, b = m.start(), m.end()
        while a < b and text[a] in " \t\r\f\v\u00a0":
            a += 1
        while b > a and text[b - 1] in " \t\r\f\v\u00a0":
            b -= 1
        if a < b and (not lines or lines[-1] != (a, b)):
            lines.append((a, b))
    clause_starts: list[tuple[int, int, str, str]] = []  # start, level, label, kind
    prev_letter: str | None = None
    signature_at: int | None = None
    in_notes = False
    for i, (a, b) in enumerate(lines):
        line = text[a:b]
        heading = _heading(line)
        if heading is not None:
            level, label = heading
            prev = elements[-1] if elements else None
            if (
                prev is not None
                and prev.kind == "heading"
                and prev.attrs["title"] == prev.attrs["text"].rstrip(".:")
                and label == line
                and i > 0
                and lines[i - 1] == (prev.start, prev.end)
                and text.count("\n", prev.end, a) == 1
            ):
                # "ARTICLE IV\nPAYMENT": the caption line belongs to the division heading.
                elements[-1] = Element(
                    "heading",
                    prev.start,
                    b,
                    level=prev.level,
                    attrs={"title": prev.attrs["title"], "text": prev.attrs["text"] + " " + line},
                )
                continue
            elements.append(
                Element("heading", a, b, level=level, attrs={"title": label, "text": line})
            )
            if label.upper() in ("NOTES", "FOOTNOTES"):
                in_notes = True
            prev_letter = None
            continue
        cm = _CLAUSE.match(line)
        if cm:
            label = cm.group(1)
            level, kind = _clause_level(label, prev_letter)
            if kind == "letter":
                prev_letter = label[-1]
            clause_starts.append((a, level, f"({label})", kind))
        if _RECITAL.match(line):
            elements.append(Element("recital", a, b))
        if signature_at is None and _WITNESS.match(line):
            signature_at = a
        fm = _FOOTNOTE.match(line)
        if fm and (fm.group(1) or in_notes):
            elements.append(Element("footnote", a, b, attrs={"label": fm.group(1) or fm.group(2)}))
    # Signature blocks: from "IN WITNESS WHEREOF" to the end, else a run of By:/Name: lines at
    # the end of the text.
    if signature_at is None:
        run_start = None
        for a, b in reversed(lines[-12:]):
            if _SIGNATURE_LINE.match(text, a, b):
                run_start = a
            elif run_start is not None and b - a > 80:
                break
        signature_at = run_start
    if signature_at is not None and lines:
        elements.append(Element("signature", signature_at, lines[-1][1]))
    elements.extend(_clause_elements(text, clause_starts, elements))
    sents = sentence_spans(text)
    sent_starts = [s for s, _ in sents]
    for m in _DEFINITION.finditer(text):
        i = bisect.bisect_right(sent_starts, m.start()) - 1
        end = sents[i][1] if i >= 0 and sents[i][1] > m.end() else m.end()
        elements.append(Element("definition", m.start(), end, attrs={"term": m.group(1).strip()}))
    cites = citation_spans(text)
    elements.extend(cites)
    elements.extend(paragraph_elements(text))
    elements.sort(key=lambda e: (e.start, -e.end))
    counts: dict[str, int] = {}
    for c in cites:
        counts[c.attrs["type"]] = counts.get(c.attrs["type"], 0) + 1
    meta: dict[str, Any] = {
        "legal_type": _doc_type(text, elements),
        "n_sentences": len(sents),
        "citations": counts,
    }
    if lines:
        meta["title"] = " ".join(text[lines[0][0] : lines[0][1]].split())[:200]
    return elements, meta


def _heading(line: str) -> tuple[int, str] | None:
    """(level, label) when the line is a heading."""
    if len(line) > 160:
        return None
    m = _DIVISION.match(line)
    if m:
        word = m.group(1).lower()
        return _DIVISION_LEVEL[word], _label(line, m.end())
    m = _SECTION.match(line)
    if m and (len(line) < 120 or m.group(1).startswith("§")):
        return 4 + m.group(2).count("."), _label(line, m.end())
    m = _NUMBERED.match(line)
    if m and len(line) < 100 and not line.rstrip().endswith((",", ";")) and line.count(". ") < 2:
        num = m.group(1).rstrip(".")
        return 4 + num.count("."), " ".join(line.split())[:80]
    m = _ROMAN.match(line)
    if m:
        label = (m.group(1) or m.group(2)) + "."
        return (5 if len(label) == 2 and label[0] in "ABCDEFGH" else 4), label
    if len(line) <= 60 and _ALLCAPS_HEADING.fullmatch(line) and len(line.split()) <= 6:
        return 3, line
    return None


def _label(line: str, end: int) -> str:
    return " ".join(line[:end].rstrip(".:").split())


def _clause_elements(
    text: str, starts: list[tuple[int, int, str, str]], elements: list[Element]
) -> list[Element]:
    """Clause elements: each runs to the next clause of the same or a higher level, or to the
    next heading."""
    heading_starts = sorted(e.start for e in elements if e.kind == "heading")
    out: list[Element] = []
    for i, (a, level, label, kind) in enumerate(starts):
        end = len(text)
        for b, lvl, _, _ in starts[i + 1 :]:
            if lvl <= level:
                end = b
                break
        h = bisect.bisect_right(heading_starts, a)
        if h < len(heading_starts):
            end = min(end, heading_starts[h])
        while end > a and text[end - 1].isspace():
            end -= 1
        out.append(Element("clause", a, end, level=level, attrs={"label": label, "style": kind}))
    return out


def _doc_type(text: str, elements: list[Element]) -> str:
    kinds = {e.kind for e in elements}
    head = text[:3000]
    if (
        "recital" in kinds
        or "signature" in kinds
        or re.search(r"\bAGREEMENT\b|\bAgreement\b", head)
    ):
        return "contract"
    if any(
        e.kind == "heading" and re.match(r"§|TITLE|Title|CHAPTER|Chapter", str(e.attrs["title"]))
        for e in elements
    ):
        return "statute"
    if re.search(r"\bv\.\s|\bCourt\b|\bOPINION\b", head):
        return "decision"
    return "legal"


# -- detection ----------------------------------------------------------------------------------

_SIGNALS = re.compile(
    r"\bv\.\s[A-Z]|U\.\s?S\.\s?C\.|§|\bF\.\s?(?:Supp\.|\dd)|\bS\.\s?Ct\.|\bC\.F\.R\.|\bId\.\sat\b"
    r"|\bWHEREAS\b|\bARTICLE\s[IVX\d]|\bSection\s\d+\.\d|\b(?:Plaintiff|Defendant|Appellant|"
    r"Appellee|Petitioner|Respondent)s?\b|\bhereinafter\b|\bhereby\b|\bpursuant\sto\b"
    r"|\bIN\sWITNESS\sWHEREOF\b|\bCourt\sof\sAppeals\b|\bSupreme\sCourt\b|\bjurisdiction\b"
)
# The same matches, 6x faster: every alternative starts with one of these characters, and the
# lookahead rejects other positions before the alternation is tried at each of them.
_SIGNALS_SCAN = re.compile(r"(?=[vU§FSCIWAPDRhpj])(?:" + _SIGNALS.pattern + ")")


# Where a signal can be: each pattern below starts at a character that lies inside every match of
# some _SIGNALS alternatives and checks the text around it ("S. Ct." and "U.S.C.": an "S" before
# "." and "C." or "Ct."), and together they cover every alternative. Matches of _SIGNALS do not
# overlap, so each holds its own such position, and the number of positions (one per match of a
# pattern: none consumes the character another match of its own pattern starts at) bounds the
# number of matches from above. Each pattern starts with a literal
# character, which the regex engine skips to in a tight loop (~0.3 ns a character): nine such
# passes cost less than one scan for a set of first characters (~6 ns a character), and since
# they look at the context ("U.S." in prose is no "U.S.C."), prose rarely reaches the full
# regex. tests/parsers/test_looks_legal.py checks that every match holds a position.
_PIVOTS = (
    r"\.(?<=[vdF]\.)(?:(?<=\bv\.)(?=\s[A-Z])|(?<=\bId\.)(?=\sat\b)|(?<=\bF\.)(?=\s?(?:Supp\.|\dd)))",
    r"S(?:\.(?=\s?Ct?\.)|e(?=ction\s\d)|u(?=preme\sCourt)|(?<=WHEREAS)|(?<=WITNESS))",
    r"A(?=ppe(?:ll|als)|RTICLE)",
    r"R(?:(?=espondent)|(?<=C\.F\.R)(?=\.))",
    r"P(?=laintiff|etitioner)",
    r"D(?=efendant)",
    r"j(?=urisdiction)",
    r"h(?=ere(?:by|inafter))",
    r"p(?=ursuant\sto)",
)
_PIVOT_SCANS = tuple(re.compile(p).findall for p in _PIVOTS)
_MIN_HITS = 5
_MIN_DENSITY = 0.5  # signals per 1,000 characters


def _min_hits(n_chars: int) -> float:
    return max(_MIN_HITS, _MIN_DENSITY * n_chars / 1000)


def looks_legal(text: str, sample: int = 40_000) -> bool:
    """Cheap test: enough distinct legal signals, densely enough, in the first ``sample`` chars."""
    head = text[:sample]
    if len(head) < 200:
        return False
    need = _min_hits(len(head))
    n = head.count("§") if "§" in head else 0  # "in" is a memchr, count a slower loop
    for findall in _PIVOT_SCANS:
        if n >= need:
            break
        n += len(findall(head))
    if n < need:
        return False
    hits = [m.group() for m in _SIGNALS_SCAN.finditer(head)]
    kinds = {h.split()[0].rstrip(".") if " " in h else h for h in hits}
    return len(kinds) >= 3 and len(hits) >= _min_hits(len(head))


class LegalParser(BaseParser):
    name = "legal"
    default_chunker = "legal"

    def parse_bytes(self, data: bytes, source: str) -> Document:
        text, encoding = decode_text(data)
        return self.from_text(data, source, text, {"encoding": encoding})

    def from_text(
        self, data: bytes, source: str, text: str, metadata: Mapping[str, Any]
    ) -> Document:
        elements, meta = legal_elements(text)
        meta.update(metadata)
        meta.setdefault("mime", "text/plain")
        return self.document(data, source, text, elements, meta)
