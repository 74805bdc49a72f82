"""Office, e-book and e-mail parsing: speed and word coverage per format, against references.

A benchmark set is built in a temporary folder (seeded, so every run reads the same files): the
python-docx / python-pptx test files of ``../shared/corpus/office/`` plus documents written with
the formats' own libraries (python-docx, python-pptx, openpyxl, ebooklib, odfpy, the stdlib's
``email``), their text drawn from ``sample_docs/`` (legal opinions, a README): headings, bulleted
lists, tables, speaker notes, a 2,000-row sheet per workbook, HTML and plain-text mail.

Per format, in one run:

- documents/s of our parser, and of each reference read of the same files: the format library's
  own raw text (python-docx paragraphs + table cells, python-pptx shapes + tables + notes, openpyxl
  ``read_only`` cell values, ebooklib items' text, odfpy ``teletype``, stdlib ``email``/``csv``)
  and markitdown where it converts the format;
- word coverage: the share of the reference's words (lower-cased ``\\w+`` tokens, as multisets)
  that our text holds (recall), and the share of ours the reference holds (precision); pipes,
  bullets and heading marks count for neither.

Run from the project root (the ``bench`` extra holds the reference libraries):

    .venv/bin/python benchmarks/office.py [--json]
"""

from __future__ import annotations

import argparse
import csv
import email
import email.policy
import io
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("CHUNKWISE_CORPUS", ROOT.parent / "shared" / "corpus")) / "office"
_TOKEN = re.compile(r"\w+")


# -- the benchmark set ---------------------------------------------------------------------------


def _sentences() -> list[str]:
    text = " ".join(
        p.read_text(encoding="utf-8")
        for p in sorted((ROOT / "sample_docs" / "legal").glob("*.txt"))
    )
    sents = [" ".join(s.split()) for s in re.split(r"(?<=[.!?])\s+", text)]
    return [s for s in sents if 40 <= len(s) <= 300]


def build(folder: Path, seed: int = 7) -> dict[str, list[Path]]:
    import docx
    import openpyxl
    import pptx
    from ebooklib import epub
    from odf.opendocument import OpenDocumentText
    from odf.text import H, List, ListItem
    from odf.text import P as OdfP

    rng = random.Random(seed)
    sents = _sentences()

    def para(n: int) -> str:
        return " ".join(rng.choice(sents) for _ in range(n))

    out: dict[str, list[Path]] = {
        k: [] for k in ("docx", "pptx", "xlsx", "csv", "epub", "eml", "odt")
    }
    if CORPUS.is_dir():
        for p in sorted(CORPUS.iterdir()):
            if p.suffix in (".docx", ".pptx"):
                out[p.suffix[1:]].append(p)
    for i in range(20):
        d = docx.Document()
        d.add_heading(f"Report {i}", 0)
        for s in range(4):
            d.add_heading(f"Section {s}: {rng.choice(sents)[:40]}", 1)
            for _ in range(3):
                d.add_paragraph(para(3))
            for _ in range(3):
                d.add_paragraph(rng.choice(sents), style="List Bullet")
            t = d.add_table(rows=4, cols=3)
            for r in range(4):
                for c in range(3):
                    t.cell(r, c).text = rng.choice(sents)[:30] if r else f"Column {c}"
        p = folder / f"gen{i}.docx"
        d.save(p)
        out["docx"].append(p)
    for i in range(10):
        prs = pptx.Presentation()
        for s in range(8):
            slide = prs.slides.add_slide(prs.slide_layouts[1])
            slide.shapes.title.text = f"Slide {s}: {rng.choice(sents)[:30]}"
            body = slide.placeholders[1].text_frame
            body.text = rng.choice(sents)
            for _ in range(3):
                body.add_paragraph().text = rng.choice(sents)
            if s % 3 == 0:
                shape = slide.shapes.add_table(3, 2, 0, 0, 100, 100)
                for r in range(3):
                    for c in range(2):
                        shape.table.cell(r, c).text = rng.choice(sents)[:25]
            slide.notes_slide.notes_text_frame.text = para(2)
        p = folder / f"gen{i}.pptx"
        prs.save(p)
        out["pptx"].append(p)
    for i in range(5):
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Data"
        ws.append(["id", "name", "city", "amount", "note"])
        for r in range(2000):
            ws.append(
                [
                    r,
                    f"name{r}",
                    rng.choice(["Paris", "Rome", "Oslo"]),
                    r * 1.5,
                    rng.choice(sents)[:40],
                ]
            )
        notes = wb.create_sheet("Notes")
        for _ in range(20):
            notes.append([rng.choice(sents)])
        p = folder / f"gen{i}.xlsx"
        wb.save(p)
        out["xlsx"].append(p)
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=";" if i % 2 else ",")
        for row in ws.iter_rows(values_only=True):
            w.writerow(row)
        c = folder / f"gen{i}.csv"
        c.write_text(buf.getvalue(), encoding="utf-8")
        out["csv"].append(c)
    for i in range(5):
        book = epub.EpubBook()
        book.set_identifier(f"id{i}")
        book.set_title(f"Book {i}")
        book.set_language("en")
        chapters = []
        for ch in range(6):
            c = epub.EpubHtml(title=f"Chapter {ch}", file_name=f"ch{ch}.xhtml", lang="en")
            c.content = f"<h1>Chapter {ch}</h1>" + "".join(f"<p>{para(3)}</p>" for _ in range(8))
            book.add_item(c)
            chapters.append(c)
        book.toc = chapters
        book.spine = ["nav", *chapters]
        book.add_item(epub.EpubNcx())
        book.add_item(epub.EpubNav())
        p = folder / f"gen{i}.epub"
        epub.write_epub(str(p), book)
        out["epub"].append(p)
    for i in range(20):
        from email.message import EmailMessage

        m = EmailMessage()
        m["From"] = "a@example.com"
        m["To"] = "b@example.com"
        m["Subject"] = rng.choice(sents)[:50]
        body = "\n\n".join(para(2) for _ in range(5))
        if i % 2:
            m.set_content(body)
        else:
            m.set_content(
                "<html><body>"
                + "".join(f"<p>{x}</p>" for x in body.split("\n\n"))
                + "</body></html>",
                subtype="html",
            )
        p = folder / f"gen{i}.eml"
        p.write_bytes(m.as_bytes())
        out["eml"].append(p)
    for i in range(5):
        doc = OpenDocumentText()
        for s in range(5):
            doc.text.addElement(H(outlinelevel=1, text=f"Part {s}"))
            for _ in range(4):
                doc.text.addElement(OdfP(text=para(3)))
            lst = List()
            for _ in range(3):
                item = ListItem()
                item.addElement(OdfP(text=rng.choice(sents)))
                lst.addElement(item)
            doc.text.addElement(lst)
        p = folder / f"gen{i}.odt"
        doc.save(str(p))
        out["odt"].append(p)
    return out


# -- references ----------------------------------------------------------------------------------


def ref_docx(p: Path) -> str:
    import docx

    d = docx.Document(str(p))
    parts = [x.text for x in d.paragraphs]
    for t in d.tables:
        for row in t.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def ref_pptx(p: Path) -> str:
    import pptx
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    prs = pptx.Presentation(str(p))
    parts: list[str] = []

    def walk(shapes: Any) -> None:
        for sh in shapes:
            if sh.shape_type == MSO_SHAPE_TYPE.GROUP:
                walk(sh.shapes)
                continue
            if sh.has_text_frame:
                parts.append(sh.text_frame.text)
            if getattr(sh, "has_table", False) and sh.has_table:
                parts.extend(c.text for r in sh.table.rows for c in r.cells)

    for s in prs.slides:
        walk(s.shapes)
        if s.has_notes_slide and s.notes_slide.notes_text_frame is not None:
            parts.append(s.notes_slide.notes_text_frame.text)
    return "\n".join(parts)


def ref_xlsx(p: Path) -> str:
    import openpyxl

    wb = openpyxl.load_workbook(str(p), read_only=True, data_only=True)
    parts = []
    for ws in wb.worksheets:
        parts.append(ws.title)
        for row in ws.iter_rows(values_only=True):
            parts.append(" ".join("" if v is None else str(v) for v in row))
    wb.close()
    return "\n".join(parts)


def ref_csv(p: Path) -> str:
    text = p.read_text(encoding="utf-8")
    dialect = csv.Sniffer().sniff(text[:4096])
    return "\n".join(" ".join(r) for r in csv.reader(io.StringIO(text), dialect))


def ref_epub(p: Path) -> str:
    import ebooklib
    from ebooklib import epub
    from lxml import html

    book = epub.read_epub(str(p))
    parts = []
    for item in book.get_items_of_type(ebooklib.ITEM_DOCUMENT):
        if isinstance(item, epub.EpubNav):
            continue
        parts.append(html.fromstring(item.get_content()).text_content())
    return "\n".join(parts)


def ref_eml(p: Path) -> str:
    from lxml import html

    m = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
    body = m.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if body is not None else ""
    if body is not None and body.get_content_type() == "text/html":
        text = html.fromstring(text).text_content()
    return str(m["subject"]) + "\n" + text


def ref_odt(p: Path) -> str:
    from odf import teletype, text
    from odf.opendocument import load

    doc = load(str(p))
    return "\n".join(
        teletype.extractText(e)
        for e in doc.getElementsByType(text.H) + doc.getElementsByType(text.P)
    )


LIBRARY_REF: dict[str, tuple[str, Callable[[Path], str]]] = {
    "docx": ("python-docx", ref_docx),
    "pptx": ("python-pptx", ref_pptx),
    "xlsx": ("openpyxl read_only", ref_xlsx),
    "csv": ("csv module", ref_csv),
    "epub": ("ebooklib + lxml", ref_epub),
    "eml": ("email + lxml", ref_eml),
    "odt": ("odfpy teletype", ref_odt),
}
MARKITDOWN = frozenset({"docx", "pptx", "xlsx", "csv", "epub"})


def markitdown_ref() -> Callable[[Path], str] | None:
    try:
        from markitdown import MarkItDown
    except ImportError:
        return None
    md = MarkItDown()
    return lambda p: md.convert(str(p)).text_content


# -- scoring -------------------------------------------------------------------------------------


def words(s: str) -> Counter[str]:
    return Counter(w.lower() for w in _TOKEN.findall(s))


def overlap(ours: Counter[str], ref: Counter[str]) -> int:
    return sum(min(n, ours[w]) for w, n in ref.items())


def timed(fn: Callable[[Path], str], files: list[Path]) -> tuple[float, list[str | None]]:
    texts: list[str | None] = []
    t0 = time.perf_counter()
    for f in files:
        try:
            texts.append(fn(f))
        except Exception:  # a reference that fails on a file scores nothing for it
            texts.append(None)
    return time.perf_counter() - t0, texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from chunkwise import registry

    md = markitdown_ref()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sets = build(Path(tmp))
        for fmt, files in sets.items():
            pname = registry.parser_for(f"x.{fmt}")
            assert pname is not None
            parser = registry.load("parsers", pname)()
            parser.parse(files[0])  # warm imports
            t_ours, ours = timed(lambda p, parser=parser: parser.parse(p).text, files)
            refs = [LIBRARY_REF[fmt]]
            if md is not None and fmt in MARKITDOWN:
                refs.append(("markitdown", md))
            for ref_name, ref_fn in refs:
                timed(ref_fn, files[-1:])  # warm imports
                t_ref, ref_texts = timed(ref_fn, files)
                got = ref_tot = ours_tot = kept = 0
                n_ok = 0
                for o, r in zip(ours, ref_texts, strict=True):
                    if o is None or r is None:
                        continue
                    n_ok += 1
                    wo, wr = words(o), words(r)
                    both = overlap(wo, wr)
                    got += both
                    kept += both
                    ref_tot += sum(wr.values())
                    ours_tot += sum(wo.values())
                rows.append(
                    {
                        "format": fmt,
                        "files": len(files),
                        "reference": ref_name,
                        "ref_ok": n_ok,
                        "ours_docs_per_s": round(len(files) / t_ours, 1),
                        "ref_docs_per_s": round(len(files) / t_ref, 1),
                        "speed_ratio": round(t_ref / t_ours, 2),
                        "coverage": round(got / ref_tot, 4) if ref_tot else None,
                        "precision": round(kept / ours_tot, 4) if ours_tot else None,
                    }
                )
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(
        "| format | files | reference | ours docs/s | ref docs/s | ours vs ref speed | "
        "coverage of ref words | our words in ref |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        cov = f"{r['coverage']:.1%}" if r["coverage"] is not None else "-"
        prec = f"{r['precision']:.1%}" if r["precision"] is not None else "-"
        ok = "" if r["ref_ok"] == r["files"] else f" ({r['ref_ok']} read)"
        print(
            f"| {r['format']} | {r['files']} | {r['reference']}{ok} | {r['ours_docs_per_s']} | "
            f"{r['ref_docs_per_s']} | {r['speed_ratio']}x | {cov} | {prec} |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
