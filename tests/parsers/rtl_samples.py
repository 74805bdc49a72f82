"""Right-to-left test PDFs with known text: Arabic, Persian and Hebrew, with numbers and Latin
words inside the lines, one two-column page, and text stored the two ways PDFs store it.

- ``*-logical.pdf`` and ``hebrew-two-column.pdf``: set by MuPDF's HTML engine
  (``insert_htmlbox``), which shapes Arabic and stores the characters in logical order.
MuPDF writes wrong Unicode for two glyphs of these fonts (the lam-alef ligature, Persian digit
four), so the known texts avoid them: that is the generator's limit, not the reader's.

- ``*-visual.pdf``: each line written glyph by glyph from left to right (``insert_text`` of the
  line in visual order), as older producers do: the text layer reads backwards unless it is
  reordered from the glyph positions.

Persian's zero-width non-joiner (``رشته‌های``) comes out of MuPDF as a space; the benchmark counts
it as one. The PDFs are committed in ``sample_docs/pdf/rtl/`` with ``rtl-truth.json`` (the known
text per file, in logical order), so the tests need no fonts. Rebuild with
``python tests/parsers/rtl_samples.py`` (needs Debian's fonts-noto-core and fonts-dejavu-core).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "sample_docs" / "pdf" / "rtl"
NOTO = Path("/usr/share/fonts/truetype/noto")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

ARABIC = [
    "تقع مدينة القاهرة على ضفاف نهر النيل ويبلغ عدد سكانها 21 مليون نسمة حسب تقديرات عام "
    "2023 وفق بيانات UN Habitat الرسمية.",
    "افتتح المتحف المصري الكبير أبوابه للزوار بعد أن تجاوزت تكلفة بنائه 1.5 مليار جنيه، "
    "ويضم أكثر من 100 ألف قطعة أثرية من عصور مختلفة.",
    "تعتمد الزراعة في الدلتا على مياه النهر، وقد زادت المساحة المزروعة بنسبة 12% في العقد "
    "الماضي بفضل مشروعات الري الحديثة.",
]
PERSIAN = [
    "تهران پایتخت ایران است و جمعیت آن در سال ۱۳۹۹ حدود ۹ میلیون نفر برآورد شده است.",
    "دانشگاه تهران در سال ۱۳۱۳ تأسیس شد و امروز بیش از ۵۰ هزار دانشجو در رشته‌های مختلف "
    "مانند Computer Science تحصیل می‌کنند.",
    "کتابخانه ملی ایران مجموعه‌ای از نسخه‌های خطی قدیمی را نگهداری می‌کند که برخی از آنها "
    "بیش از ۸۰۰ سال قدمت دارند.",
]
HEBREW = [
    "ירושלים היא עיר עתיקה שנוסדה לפני 3000 שנה ובה גרים כיום 950 אלף תושבים לפי נתוני "
    "OECD האחרונים.",
    "הספרייה הלאומית בירושלים שומרת על יותר מ 5 מיליון ספרים וכתבי יד, ובהם אוסף נדיר של "
    "כתבים מימי הביניים.",
    "תל אביב נוסדה בשנת 1909 על חולות החוף, והיום היא מרכז כלכלי ותרבותי עם נמל תעופה "
    "בינלאומי בשם Ben Gurion.",
]
# Short lines for the visual-order files: a line is written as one string.
HEBREW_LINES = [
    "ירושלים היא עיר עתיקה בת 3000 שנה",
    "ובה גרים כיום 950 אלף תושבים",
    "לפי נתוני OECD האחרונים",
    "תל אביב נוסדה בשנת 1909 על החוף",
]
ARABIC_LINES = [
    "تقع مدينة القاهرة على نهر النيل",
    "ويبلغ عدد سكانها 21 مليون نسمة",
    "حسب بيانات UN Habitat لعام 2023",
    "ويضم المتحف أكثر من 100 ألف قطعة",
]

CSS = """
@font-face {font-family: naskh; src: url(NotoNaskhArabic-Regular.ttf);}
@font-face {font-family: hebrew; src: url(NotoSansHebrew-Regular.ttf);}
@font-face {font-family: latin; src: url(NotoSans-Regular.ttf);}
body {font-size: 12pt; line-height: 1.5;}
p {margin: 0 0 10pt 0; text-align: right;}
.ar {font-family: naskh, latin;}
.he {font-family: hebrew, latin;}
"""


def visual(line: str) -> str:
    """A right-to-left line in visual order (left to right on the page), as the Unicode bidi
    algorithm lays it out for words of right-to-left letters, Latin words and numbers: runs of
    right-to-left words read from the right (each word's letters reversed); a Latin word starts
    a left-to-right island that the numbers and Latin words after it join (rule W7); a number
    after right-to-left text is an island of its own."""
    runs: list[list[str]] = []
    for w in line.split(" "):
        kind = "rtl" if re.search(r"[\u0590-\u08ff]", w) else "num" if w.isdigit() else "ltr"
        last = runs[-1][0] if runs else None
        if (kind == "rtl" and last == "rtl") or (kind != "rtl" and last == "ltr"):
            runs[-1].append(w)
        else:
            runs.append([kind, w])
    out: list[str] = []
    for kind, *words in reversed(runs):
        if kind == "rtl":
            out.extend(w[::-1] for w in reversed(words))
        else:
            out.extend(words)
    return " ".join(out)


def _save(doc: object, path: Path) -> None:
    doc.set_metadata({"producer": "chunkwise tests/parsers/rtl_samples.py"})  # type: ignore[attr-defined]
    doc.subset_fonts()  # type: ignore[attr-defined]
    doc.save(path, garbage=4, deflate=True)  # type: ignore[attr-defined]


def build() -> dict[str, str]:
    import pymupdf

    OUT.mkdir(parents=True, exist_ok=True)
    archive = pymupdf.Archive(str(NOTO))
    truth: dict[str, str] = {}

    def html_pdf(name: str, paras: list[str], cls: str) -> None:
        doc = pymupdf.open()
        page = doc.new_page(width=420, height=595)
        body = "".join(f"<p dir='rtl' class='{cls}'>{p}</p>" for p in paras)
        page.insert_htmlbox(pymupdf.Rect(40, 50, 380, 560), body, css=CSS, archive=archive)
        _save(doc, OUT / name)
        truth[name] = "\n\n".join(paras)

    html_pdf("arabic-logical.pdf", ARABIC, "ar")
    html_pdf("persian-logical.pdf", PERSIAN, "ar")
    html_pdf("hebrew-logical.pdf", HEBREW, "he")

    # Two columns, read from the right: the right column holds the first two paragraphs.
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=420)
    right = "".join(f"<p dir='rtl' class='he'>{p}</p>" for p in HEBREW[:2])
    left = f"<p dir='rtl' class='he'>{HEBREW[2]}</p>"
    # The left column is written first, so the content stream's order is not the reading order.
    page.insert_htmlbox(pymupdf.Rect(40, 40, 280, 400), left, css=CSS, archive=archive)
    page.insert_htmlbox(pymupdf.Rect(315, 40, 555, 400), right, css=CSS, archive=archive)
    _save(doc, OUT / "hebrew-two-column.pdf")
    truth["hebrew-two-column.pdf"] = "\n\n".join(HEBREW)

    for name, lines in (("hebrew-visual.pdf", HEBREW_LINES), ("arabic-visual.pdf", ARABIC_LINES)):
        doc = pymupdf.open()
        page = doc.new_page(width=420, height=300)
        page.insert_font(fontname="dejavu", fontfile=str(DEJAVU))
        y = 60.0
        for line in lines:
            text = visual(line)
            width = pymupdf.Font(fontfile=str(DEJAVU)).text_length(text, fontsize=12)
            # Right-aligned, as a right-to-left paragraph is set.
            page.insert_text((380 - width, y), text, fontname="dejavu", fontsize=12)
            y += 20
        _save(doc, OUT / name)
        truth[name] = "\n".join(lines)

    (OUT / "rtl-truth.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return truth


if __name__ == "__main__":
    for name in build():
        print(OUT / name)


def words(text: str) -> list[str]:
    """Words for scoring: NFKC (presentation forms are letters), the zero-width non-joiner read
    as the space MuPDF makes of it, case folded, punctuation left out."""
    t = unicodedata.normalize("NFKC", text).replace("\u200c", " ")
    return [w.casefold() for w in re.findall(r"\w+", t)]


def coverage_order(truth: str, text: str) -> tuple[float, float]:
    """Coverage: the share of the known words found (as a multiset). Order: the longest common
    subsequence of the two word sequences over the words found, 1.0 when every found word is
    in its place."""
    g, e = words(truth), words(text)
    found = sum((Counter(g) & Counter(e)).values())
    if not g or not found:
        return 0.0, 0.0
    prev = [0] * (len(e) + 1)
    for a in g:
        cur = [0]
        for j, b in enumerate(e):
            cur.append(prev[j] + 1 if a == b else max(prev[j + 1], cur[j]))
        prev = cur
    return found / len(g), prev[-1] / found
