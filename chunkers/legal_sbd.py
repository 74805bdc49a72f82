"""Sentence boundaries for legal text: a rule-based scanner built for court decisions, statutes and
contracts, fast enough to run on every document (well over a million characters per second).

It follows nupunkt's idea — a period after a known abbreviation rarely ends a sentence — and uses
nupunkt's curated legal abbreviation list, but decides with a few cheap rules instead of Punkt's
statistics:

- Line structure first. In legal text a line break is nearly always a boundary (captions, docket
  lines, headings and list items without final punctuation), except after a comma, semicolon or
  dash (a sentence or list continuing on the next line), before a lower-case word (a wrapped line),
  and around a caption's lone ``v.``. Hard-wrapped files (contracts, statutes in fixed-width text)
  are detected and their lines joined unless the line ends a sentence or the next one starts a
  heading or an enumerated item.
- Inside a line, ``.``, ``?`` and ``!`` (with closing quotes, brackets and footnote markers) end a
  sentence unless the word before the period is an abbreviation or an initial, or the next word
  starts lower case or continues a citation (``U.S. 483``, ``No. 210``, ``Id. at 5``, ``§ 1983``).
  An abbreviation followed by a capitalised word ends the sentence only when that word is a common
  sentence opener ("The", "In", "See"...), which is the case Punkt's orthographic heuristic covers.
- Star pagination (``*748``) opening a line is a unit of its own, as in the gold data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from chunkwise.chunkers.legal_abbreviations import NUPUNKT_ABBREVIATIONS

from chunkwise.spans import Span, trimmed_pieces

# Abbreviations that never end a sentence before a capitalised word: titles, party and reference
# words that always take a name or number after them.
_NEVER_FINAL = frozenset(
    """
    mr mrs ms messrs dr prof hon rev st ste gen col lt sgt capt cmdr adm gov sen rep pres
    v vs no nos art arts sec secs ch chs cl para paras pp p pg pt pts fig figs n nn fn ex exh
    e.g i.e cf viz ed eds vol vols ibid cert reh op j jj c.j ct supp &c rel cmt illus cc
    compl mot opp decl dkt pls defs
    wm chas geo thos jas jno benj robt saml edw jr
    jan feb mar apr jun jul aug sep sept oct nov dec
    """.split()
)
# Abbreviations that are also ordinary words ending sentences often enough that only an obvious
# continuation (lower case, digit) keeps them open.
_WORD_LIKE = frozenset(
    """
    all am an and at bank be bed black bond book broad bull bus by can cap day dig do even
    fed free good hall hand hard in is it kan la lab law lead leg life low me miss nat no
    ok one or ore part pet rep reports so south stat sun tax the will wis works
    """.split()
)
# Bluebook abbreviations nupunkt's list lacks: court documents (table BT1: "Compl. 2", "Def.'s Mot.
# Dismiss 6", "Pl.'s Opp."), case-name and periodical words (tables T6/T13: "Distribs.",
# "Psychol."), and the subdivision words of T16 ("cmt. e", "illus. 8", "cc. II-XII").
_BLUEBOOK = frozenset(
    """
    compl mot opp decl dkt ans stip interrog admis prelim inj summ obj objs req reqs supp
    pls defs pet'rs resp'ts hr'g dep aff mem br reply tr ex exh exs
    distribs psychol doc docs envtl prot rts servs sys transp mfg mgmt indus info pharm prods
    rehab ret sch schs univ sec ref
    cmt cmts illus cc cls subcl subcls pmbl
    """.split()
)
ABBREVIATIONS = NUPUNKT_ABBREVIATIONS | _NEVER_FINAL | _BLUEBOOK
# Abbreviations legal writing uses in lower case.
_LOWER_ABBREVIATIONS = _NEVER_FINAL | frozenset(
    """
    etc seq seqq al ibid supra infra rev ed eds vol vols cert approx max min esp incl
    misc orig pl prob pub resp subd subsec supp viz ann cir dist div ord stat jur rel cmt illus cc
    """.split()
)

# Capitalised words that open sentences; after an ambiguous abbreviation they signal a boundary.
_OPENERS = frozenset(
    """
    a accordingly additionally after again all also although an and another any as at because
    before both but by consequently despite during each either even every finally first for
    further furthermore given having he her here his however i if in indeed instead it its
    just last later like many moreover most much my neither nevertheless next no nonetheless
    nor not nothing notwithstanding now of on once one only or other our over plaintiff
    plaintiffs defendant defendants petitioner petitioners respondent respondents appellant
    appellants appellee appellees rather second see she similarly since so some still such
    that the their then there thereafter therefore these they third this those though thus to
    under unless unlike until upon we what when where whether which while who why with without
    yet you accord compare contra but
    """.split()
)

# A sentence-final mark inside a line: terminators, then closing quotes/brackets and footnote
# markers ("others.[1]", "CO.[*]"), then the whitespace before the next sentence.
_CANDIDATE = re.compile(
    # Only at the first mark of a run, and atomic: a long run of dots or bangs with no space
    # after it fails once, in linear time, instead of being retried from every position.
    # (The lookahead first lets the engine skip to candidate characters: 3x faster.)
    r"""(?=[.!?…])(?<![.!?…])(?<![.!?…]\s)(?>\.(?:\s?\.){2,}|[.!?]+|…)((?:["'”’)\]]|\[\d{1,4}\]|\[\*+\]"""
    r"""|\[bookmark:[^\[\]\n]{0,20}(?:\[\d{1,4}\])?\]\[\d{1,4}\])*+"""
    # Footnote numbers glued to the end: 'memory."1', 'display.3'.
    r"""(?:(?<=["”’])\d{1,3}|(?<=[a-z]\.)\d{1,2})?)[ \t\u00a0]+(?=(\S))"""
)
_CONTRACTION = re.compile(r"[A-Z][a-z]{0,6}['’](?!s\b)[a-z]{1,3}")
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)*[A-Za-z]$")
_LINE_TERMINAL = re.compile(r"""[.!?:…]["'”’)\]]*(?:\[\d{1,4}\]|\[\*+\])?$""")
_STAR_PAGE = re.compile(r"\*{1,2}\d+\b")
# Footnote labels: "[1]", "[*]", and the "[bookmark: r[1]][1]" anchors of converted opinions.
_FOOTNOTE_LABEL = re.compile(
    r"(?:\[\d{1,4}\]|\[\*+\]|\[bookmark:[^\[\]\n]{0,20}(?:\[\d{1,4}\])?\]\[\d{1,4}\])(?=\s)"
)
# Star pagination of reporters: "*748" inside text, "1176*1176" (page and star) opening a line.
_STAR_LINE = re.compile(r"\d{1,5}\*{1,2}\d{1,5}(?=[ \t])")
# An enumeration label opening a line, before a heading or an item that starts capitalised
# ("I. BACKGROUND", "a. Jurisdiction and Venue", "(f) Authority to Use..."): a unit of its own.
_LINE_LABEL = re.compile(
    r"""(?:[IVX]{1,6}\.|[a-z]\.|[0-9]{1,3}\.|\((?:[0-9]{1,3}|[a-zA-Z]|[ivxIVX]{1,6})\))"""
    r"""[ \t]+(?=[A-Z])"""
)
_LAST_WORD = re.compile(r"(\S+)\.$")
_ENUM_START = re.compile(
    r"""(?:\(?[0-9]{1,3}[.)]|\(?[a-zA-Z][.)]\s|\([ivxlcdmIVXLCDM]{1,6}\)|\([a-zA-Z]{1,2}\)|§|"""
    r"""(?:ARTICLE|Article|SECTION|Section|PART|Part|CHAPTER|Chapter|TITLE|Title|Sec\.|Art\.)\s"""
    r"""|[•\u2022\u0095\-–—]\s)"""
)
_BULLET = re.compile(r"[•\u2022\u0095\-–—]\s")
_CAPTION_JOINERS = frozenset({"v.", "vs.", "v", "vs", "and", "against", "versus"})
_CONT_END = (",", ";", "\u2014", "\u0097", "\u2013", "-", "(", "&")
_SECTION_LABEL = re.compile(
    r"(?:§{1,2}|SECTION|Section|SEC\.|Sec\.|ARTICLE|Article|Art\.|RULE|Rule)\s*"
)
# Straight apostrophes are left out: inside a word they are no opener ("Dep't").
_OPENERS_CHARS = '(["“‘'
_URL_BEFORE = re.compile(r"(?:https?://|www\.)\S*$")


def _word_before(text: str, a: int, pos: int) -> str:
    """The word ending at ``pos`` without opening brackets/quotes: "(D.Md" -> "D.Md"; a word
    ending in a bracket ("(1954)") is no abbreviation and comes back empty."""
    lo = max(a, pos - 40)
    ws = text.rfind(" ", lo, pos)
    token = text[(ws + 1 if ws >= 0 else lo) : pos]
    if "\t" in token or "\u00a0" in token:
        token = token.replace("\u00a0", "\t").rpartition("\t")[2]
    if token.endswith((")", "]")):
        return ""
    if token.isalnum():
        return token
    for c in _OPENERS_CHARS:
        if c in token:
            token = token.rpartition(c)[2]
    return token.lstrip("'")


def _inside_quote(text: str, a: int, pos: int) -> bool:
    """An odd number of straight or curly double quotes between the line start and ``pos``."""
    seg = text[a:pos]
    return (seg.count('"') + seg.count("“") + seg.count("”")) % 2 == 1


def _is_abbreviation(word: str) -> bool:
    """``word`` is the text before a period, without the period ("U.S", "Supp", "Mr")."""
    if not word:
        return False
    low = word.lower()
    if low in ABBREVIATIONS:
        # Reporter names that are also words ("Call.", "Act.") are written capitalised; the
        # lower-case word is just a word ("set up the call. U.S. Dep't...").
        return not (word.islower() and len(word) > 2 and low not in _LOWER_ABBREVIATIONS)
    # Initials and dotted forms: "J", "A.W", "S.D", "F.Supp.2d" style reporter names.
    if _INITIALS.match(word):
        return True
    return bool("." in low and low.split(".", 1)[0] in ABBREVIATIONS)


def _boundary_after_period(text: str, word: str, nxt_pos: int, nxt: str, end: int) -> bool:
    """Decide a ``.`` whose preceding word is ``word`` and whose next visible char is ``nxt``."""
    if nxt.islower():
        return False
    if not _is_abbreviation(word):
        return True
    low = word.lower()
    if nxt.isdigit() or nxt in "§¶(&" or (nxt == "*" and text[nxt_pos + 1 : nxt_pos + 2].isdigit()):
        # A citation goes on: "U.S. 483", "No. 210", "U.S.C. § 1983", "Stat. & Const.", "*134".
        return False
    if low == "id":
        # "Id." is a whole citation sentence; "Id. at 5" and "Id. § 3" continue (handled above).
        return True
    if low in _NEVER_FINAL:
        return False
    if len(word) == 1 and word.isupper():
        # A lone capital is an initial ("Stephen W. Smith"), not the end of a sentence.
        return False
    if not nxt.isalpha():
        return True
    j = nxt_pos
    while j < end and (text[j].isalpha() or text[j] in "'’"):
        j += 1
    following = text[nxt_pos:j]
    if j < end and text[j] == "." and _is_abbreviation(following):
        # "Fed. R. Civ. P.", "22 Fed. Rep. 843", "44 La. Ann. 770": abbreviation chains.
        return False
    if _CONTRACTION.fullmatch(following):
        # Bluebook contractions continue a name: "Am. Int'l Pictures", "U.S. Dep't of Justice".
        return False
    if low in _WORD_LIKE:
        return True
    # A capitalised sentence opener means the abbreviation ended the sentence.
    return following.lower() in _OPENERS and not following.isupper()


# A second opinion on an in-line candidate: (text, line start, line end, candidate match, the
# rules' decision) -> boundary. benchmarks/legal_sbd_learned.py plugs a learned model in here.
Decide = Callable[[str, int, int, "re.Match[str]", bool], bool]


def _line_breaks(text: str, a: int, b: int, decide: Decide | None) -> Iterator[int]:
    """Boundaries (sentence start offsets) inside one line text[a:b]."""
    for m in _CANDIDATE.finditer(text, a, b):
        nxt_pos = m.start(2)
        if nxt_pos >= b:
            continue
        mark_start = m.start()
        if _omission(text, m):
            # "satellites...." is a sentence end followed by an ellipsis of omitted text.
            yield mark_start + 1
            yield nxt_pos
            continue
        rule = _rule_boundary(text, a, b, m)
        if decide is not None:
            rule = decide(text, a, b, m, rule)
        if rule:
            yield nxt_pos


def _omission(text: str, m: re.Match[str]) -> bool:
    """A word, four periods and no closer: a sentence end, then an ellipsis."""
    i = m.start()
    return m.start(1) - i == 4 and not m.group(1) and text[i - 1 : i].isalnum() and text[i] == "."


def _rule_boundary(text: str, a: int, b: int, m: re.Match[str]) -> bool:
    """The rule layer's decision on one in-line candidate."""
    nxt_pos = m.start(2)
    nxt = m.group(2)
    mark_start = m.start()
    mark = text[mark_start : m.start(1)]
    if mark[0] in "!?":
        closes = any(q in m.group(1) for q in '"”')
        inside = not closes and _inside_quote(text, a, mark_start)
        if nxt.islower() or inside or text[mark_start - 1 : mark_start] == "/":
            # '"Do your Part! Buy Where You Can Work!"' is one sentence in legal corpora.
            return False
        return not (
            text[mark_start + 1 : mark_start + 2].isspace()
            and _URL_BEFORE.search(text, max(a, mark_start - 60), mark_start)
        )
    if mark[0] == "…" or (len(mark) > 1 and "." in mark[1:]):
        # Ellipsis: a sentence ends only when a capitalised word follows a final period or a
        # closing quotation ('. . ." There follow').
        return nxt.isupper() and (mark.replace(" ", "").count(".") == 4 or bool(m.group(1)))
    if m.group(1):
        # Period followed by a closer: '... court."', '(1954).' never precede an abbreviation.
        # "(State v. Chavers, 5 Jones, [N.C.] 1, p. 11)": a bracketed reporter.
        return not (nxt.islower() or (nxt.isdigit() and m.group(1)[-1] in ")]"))
    word = _word_before(text, a, mark_start)
    if word[:1].isdigit() and _SECTION_LABEL.fullmatch(text, a, mark_start - len(word)):
        # "§ 7-201. Definitions." and "Section 4. Payment." are heading lines, not two
        # sentences.
        return False
    return _boundary_after_period(text, word, nxt_pos, nxt, b)


def _hard_wrapped(lines: list[tuple[int, int]], text: str) -> int:
    """The wrap width when the text is hard-wrapped (fixed-width lines), else 0."""
    lengths = sorted(b - a for a, b in lines)
    if len(lengths) < 6:
        return 0
    width = lengths[int(len(lengths) * 0.95)]
    if width > 130 or width < 30:
        # Decisions keep a paragraph per line: long lines, no fixed width.
        return 0
    # Wrapped text has lines near the width that end mid-sentence.
    open_lines = sum(
        1 for a, b in lines if b - a >= 0.7 * width and text[b - 1] not in ".!?:;\"'”’)"
    )
    return width if open_lines >= 3 and open_lines >= 0.1 * len(lines) else 0


def _lines(text: str, start: int, end: int) -> tuple[list[Span], list[bool]]:
    """Non-blank lines of text[start:end], trimmed, and whether a blank line precedes each."""
    lines: list[Span] = []
    blank_before: list[bool] = []
    pos = start
    blank = False
    while pos < end:
        nl = text.find("\n", pos, end)
        if nl < 0:
            nl = end
        a, b = pos, nl
        while a < b and text[a] in " \t\r\f\v\u00a0":
            a += 1
        while b > a and text[b - 1] in " \t\r\f\v\u00a0":
            b -= 1
        if a < b:
            lines.append((a, b))
            blank_before.append(blank)
            blank = False
        else:
            blank = True
        pos = nl + 1
    return lines, blank_before


def inline_candidates(text: str) -> Iterator[tuple[int, int, re.Match[str], bool]]:
    """(line start, line end, match, the rules' decision) of every in-line candidate a ``Decide``
    function is asked about; the sentence would start at ``match.start(2)``."""
    for a, b in _lines(text, 0, len(text))[0]:
        for m in _CANDIDATE.finditer(text, a, b):
            nxt_pos = m.start(2)
            if nxt_pos >= b or _omission(text, m):
                continue
            yield a, b, m, _rule_boundary(text, a, b, m)


def sentence_spans(
    text: str, start: int = 0, end: int | None = None, decide: Decide | None = None
) -> list[Span]:
    """Sentences of ``text[start:end]`` as (start, end) offsets, whitespace trimmed, in order.
    ``decide`` may overrule the rules on in-line candidates (an experiment hook, see above)."""
    end = len(text) if end is None else end
    lines, blank_before = _lines(text, start, end)
    if not lines:
        return []
    wrap = _hard_wrapped(lines, text)
    cuts: list[int] = []
    prev_joined_next = False
    for i, (a, b) in enumerate(lines):
        if i > 0 and not prev_joined_next:
            cuts.append(a)
        m = _FOOTNOTE_LABEL.match(text, a, b)
        if m and m.end() < b:
            # A footnote's label opening its line is a unit of its own ("[1] See id.").
            cuts.append(m.end())
        m = _STAR_LINE.match(text, a, b) or _LINE_LABEL.match(text, a, b)
        if m and m.end() < b and _own_label(text, m, b):
            cuts.append(m.end())
        if b - a > 5 and text.endswith("....", a, b) and text[b - 5].isalnum():
            # "billing information...." ends a sentence, then marks an omission.
            cuts.append(b - 3)
        for c in [a, *_line_breaks(text, a, b, decide)]:
            if c > a:
                cuts.append(c)
            if text[c] == "*":
                # Star pagination opening a sentence stands alone ("*748 Pen Register...").
                m = _STAR_PAGE.match(text, c, b)
                if m and m.end() < b and text[m.end()].isspace():
                    cuts.append(m.end())
        prev_joined_next = i + 1 < len(lines) and _joins(
            text, (a, b), lines[i + 1], blank_before[i + 1], wrap, i == 0 or blank_before[i]
        )
    cuts.sort()
    return trimmed_pieces(text, [lines[0][0], *cuts, lines[-1][1]])


def _own_label(text: str, m: re.Match[str], b: int) -> bool:
    """Whether the star page or enumeration label ``m`` opening a line stands alone."""
    if text[m.start()].isupper() and text[m.start() + 1] == ".":
        # "I." and "V." open headings ("I. BACKGROUND") but are initials too ("V. Lawson, for
        # petitioners"): headings are short and have no commas. Other lone capitals are left to
        # the sentence rules: "K. PARAKKAL" and "H. Albert Young" are names.
        return b - m.end() < 80 and "," not in text[m.end() : b]
    if text[m.start()] == "(":
        # "(f) Authority to Use Wireless Location Information." and "(a) General rule." title
        # subsections; "(c) Customer shall reimburse reasonable costs." and "(b) Customer has not
        # disputed the invoice; and" are clauses, one unit with their label.
        words = text[m.end() : b].split()
        long_words = [w for w in words if len(w) > 3]
        titled = sum(w[0].isupper() for w in long_words) >= 0.6 * len(long_words)
        return b - m.end() < 100 and (len(words) <= 3 or titled) and words[-1][-1] not in ";,"
    return True


def _joins(
    text: str, cur: Span, nxt: Span, blank_between: bool, wrap: int, cur_first: bool
) -> bool:
    """Whether the line ``cur`` continues on line ``nxt`` (no sentence boundary between)."""
    a, b = cur
    na, nb = nxt
    line = text[a:b]
    first = text[na]
    if line in _CAPTION_JOINERS or text[na:nb] in _CAPTION_JOINERS:
        return True
    if first.islower():
        return not _ENUM_START.match(text, na, nb) or (blank_between is False and wrap > 0)
    if line.endswith(_CONT_END):
        if line.endswith(";") and _BULLET.match(text, na, nb):
            # "...(super-warrant);\n• tracking devices" — one bulleted sentence in the gold data;
            # items enumerated with (a), (1) stay sentences of their own.
            return True
        if _ENUM_START.match(text, na, nb):
            return False
        return not line.endswith("-") or not blank_between
    if blank_between:
        return False
    m = _LAST_WORD.search(line)
    if m:
        word = m.group(1).lstrip("(")
        if word.lower() in _NEVER_FINAL or (len(word) == 1 and word.isupper()):
            # "with whom Mr. Theodore M.\nBerry": a name or reference wrapped after its initial.
            return True
    if not wrap:
        return False
    if _LINE_TERMINAL.search(line):
        return False
    if b - a < 0.6 * wrap:
        # A short line in wrapped text ends a paragraph or is a heading.
        return False
    if _ENUM_START.match(text, na, nb):
        return False
    return not _is_heading(line)


def _is_heading(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]
