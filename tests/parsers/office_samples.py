"""Small office files built from their XML, each exercising the structures a parser must keep.

``python -m tests.parsers.office_samples`` rewrites ``sample_docs/office/`` (the fuzz suite's seeds
and the golden files' inputs); the tests also call the builders directly for variants.
"""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from pathlib import Path

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
P = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
WP = 'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"'
WPS = 'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"'
MC = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
PIC = 'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"'


def zip_bytes(members: dict[str, str | bytes], stored_first: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        if stored_first:
            z.writestr(zipfile.ZipInfo(stored_first), members[stored_first])
        for name, data in members.items():
            if name != stored_first:
                z.writestr(name, data)
    return buf.getvalue()


def rels(*items: tuple[str, str, str], external: tuple[str, ...] = ()) -> str:
    out = [f'<?xml version="1.0" encoding="UTF-8"?><Relationships {PKG}>']
    for rid, rtype, target in items:
        mode = ' TargetMode="External"' if rid in external else ""
        out.append(f'<Relationship Id="{rid}" Type="{REL}/{rtype}" Target="{target}"{mode}/>')
    out.append("</Relationships>")
    return "".join(out)


def _p(text: str, style: str | None = None, num: tuple[int, int] | None = None) -> str:
    ppr = ""
    if style or num:
        ppr = "<w:pPr>"
        if style:
            ppr += f'<w:pStyle w:val="{style}"/>'
        if num:
            ppr += f'<w:numPr><w:ilvl w:val="{num[1]}"/><w:numId w:val="{num[0]}"/></w:numPr>'
        ppr += "</w:pPr>"
    return f'<w:p>{ppr}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


def _tc(text: str, extra: str = "") -> str:
    return f"<w:tc><w:tcPr>{extra}</w:tcPr>{_p(text)}</w:tc>"


def make_docx() -> bytes:
    body = "".join(
        [
            _p("Annual Report", "Title"),
            _p("Introduction", "Heading1", (2, 0)),
            '<w:p><w:r><w:t xml:space="preserve">See </w:t></w:r>'
            '<w:hyperlink r:id="rId9"><w:r><w:t>our website</w:t></w:r></w:hyperlink>'
            '<w:r><w:t xml:space="preserve"> for details</w:t></w:r>'
            '<w:r><w:footnoteReference w:id="1"/></w:r><w:r><w:t>.</w:t></w:r>'
            "<w:r><w:rPr><w:vanish/></w:rPr><w:t>hidden words</w:t></w:r></w:p>",
            '<w:p><w:commentRangeStart w:id="0"/><w:r><w:t>Revenue grew strongly.</w:t></w:r>'
            '<w:commentRangeEnd w:id="0"/><w:r><w:commentReference w:id="0"/></w:r></w:p>',
            _p("First point", None, (1, 0)),
            _p("A nested point", None, (1, 1)),
            _p("Second point", None, (1, 0)),
            _p("Scope", "Heading2", (2, 1)),
            _p("Step one", None, (3, 0)),
            _p("Step two", None, (3, 0)),
            '<w:tbl><w:tblPr><w:tblLook w:val="04A0" w:firstRow="1"/></w:tblPr>'
            "<w:tr><w:trPr><w:tblHeader/></w:trPr>"
            + _tc("Region")
            + _tc("Q1")
            + _tc("Q2")
            + "</w:tr><w:tr>"
            + _tc("North", '<w:vMerge w:val="restart"/>')
            + _tc("10 | 11", '<w:gridSpan w:val="2"/>')
            + "</w:tr><w:tr>"
            + _tc("", "<w:vMerge/>")
            + _tc("12")
            + _tc("13")
            + "</w:tr></w:tbl>",
            '<w:sdt><w:sdtPr><w:alias w:val="Status"/></w:sdtPr><w:sdtContent>'
            + _p("Content control text")
            + "</w:sdtContent></w:sdt>",
            f'<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wp:anchor>'
            f'<wp:docPr id="1" name="Text Box 1"/><a:graphic><a:graphicData><wps:wsp><wps:txbx>'
            f"<w:txbxContent>{_p('Text box words')}</w:txbxContent></wps:txbx></wps:wsp>"
            f"</a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice><mc:Fallback>"
            f"<w:pict><w:txbxContent>{_p('Text box words')}</w:txbxContent></w:pict>"
            f"</mc:Fallback></mc:AlternateContent></w:r></w:p>",
            '<w:p><w:r><w:drawing><wp:inline><wp:docPr id="2" name="Picture 2" '
            'descr="Bar chart of revenue by region"/><a:graphic><a:graphicData><pic:pic/>'
            "</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>",
            _p("Results", "Heading1", (2, 0)),
            _p("Numbers went up."),
            '<w:sectPr><w:headerReference w:type="default" r:id="rId5"/></w:sectPr>',
        ]
    )
    document = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:document {W} {R} {WP} {WPS} {A} {MC} {PIC}>'
        f"<w:body>{body}</w:body></w:document>"
    )
    styles = (
        f'<?xml version="1.0"?><w:styles {W}>'
        '<w:style w:type="paragraph" w:styleId="Normal"><w:name w:val="Normal"/></w:style>'
        '<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/></w:style>'
        '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/>'
        '<w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>'
        '<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/>'
        '<w:basedOn w:val="Heading1"/><w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style>'
        "</w:styles>"
    )
    numbering = (
        f'<?xml version="1.0"?><w:numbering {W}>'
        '<w:abstractNum w:abstractNumId="10">'
        '<w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/><w:lvlText w:val="•"/></w:lvl>'
        '<w:lvl w:ilvl="1"><w:numFmt w:val="bullet"/><w:lvlText w:val="o"/></w:lvl>'
        "</w:abstractNum>"
        '<w:abstractNum w:abstractNumId="20">'
        '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/>'
        '<w:lvlText w:val="%1."/></w:lvl>'
        '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="decimal"/>'
        '<w:lvlText w:val="%1.%2"/></w:lvl>'
        "</w:abstractNum>"
        '<w:abstractNum w:abstractNumId="30">'
        '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/>'
        '<w:lvlText w:val="%1)"/></w:lvl></w:abstractNum>'
        '<w:num w:numId="1"><w:abstractNumId w:val="10"/></w:num>'
        '<w:num w:numId="2"><w:abstractNumId w:val="20"/></w:num>'
        '<w:num w:numId="3"><w:abstractNumId w:val="30"/></w:num>'
        "</w:numbering>"
    )
    footnotes = (
        f'<?xml version="1.0"?><w:footnotes {W}>'
        '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
        "</w:footnote>"
        f'<w:footnote w:id="1">{_p("Figures are unaudited.")}</w:footnote></w:footnotes>'
    )
    comments = (
        f'<?xml version="1.0"?><w:comments {W}>'
        '<w:comment w:id="0" w:author="Dana" w:date="2024-05-01T10:00:00Z">'
        f"{_p('Source for this?')}</w:comment></w:comments>"
    )
    header = f'<?xml version="1.0"?><w:hdr {W}>{_p("ACME Corp — Confidential")}</w:hdr>'
    core = (
        '<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/'
        'package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<dc:title>Annual Report 2024</dc:title><dc:creator>Finance Team</dc:creator>"
        "</cp:coreProperties>"
    )
    return zip_bytes(
        {
            "[Content_Types].xml": '<?xml version="1.0"?><Types/>',
            "_rels/.rels": rels(("rId1", "officeDocument", "word/document.xml")),
            "word/document.xml": document,
            "word/_rels/document.xml.rels": rels(
                ("rId1", "styles", "styles.xml"),
                ("rId2", "numbering", "numbering.xml"),
                ("rId3", "footnotes", "footnotes.xml"),
                ("rId4", "comments", "comments.xml"),
                ("rId5", "header", "header1.xml"),
                ("rId9", "hyperlink", "https://example.com/report"),
                external=("rId9",),
            ),
            "word/styles.xml": styles,
            "word/numbering.xml": numbering,
            "word/footnotes.xml": footnotes,
            "word/comments.xml": comments,
            "word/header1.xml": header,
            "docProps/core.xml": core,
        }
    )


def _sp(text_xml: str, ph: str = "", pos: tuple[int, int] | None = None, name: str = "") -> str:
    xfrm = (
        f'<a:xfrm><a:off x="{pos[1]}" y="{pos[0]}"/><a:ext cx="1" cy="1"/></a:xfrm>' if pos else ""
    )
    return (
        f'<p:sp><p:nvSpPr><p:cNvPr id="2" name="{name}"/><p:cNvSpPr/><p:nvPr>{ph}</p:nvPr>'
        f"</p:nvSpPr><p:spPr>{xfrm}</p:spPr><p:txBody><a:bodyPr/>{text_xml}</p:txBody></p:sp>"
    )


def _ap(text: str, lvl: int = 0, extra: str = "") -> str:
    ppr = f'<a:pPr lvl="{lvl}">{extra}</a:pPr>' if lvl or extra else ""
    return f"<a:p>{ppr}<a:r><a:t>{text}</a:t></a:r></a:p>"


def make_pptx() -> bytes:
    title = '<p:ph type="title"/>'
    slide1 = (
        f'<?xml version="1.0"?><p:sld {A} {P} {R}><p:cSld><p:spTree>'
        + _sp(_ap("Roadmap 2025"), title)
        # Written out of reading order: the lower box first.
        + _sp(_ap("Footnote box at the bottom"), "", (5000000, 500000), "TextBox 9")
        + _sp(
            _ap("Ship the parser") + _ap("DOCX and PPTX", 1) + _ap("Measure it"),
            '<p:ph idx="1"/>',
            (1500000, 500000),
        )
        + '<p:grpSp><p:nvGrpSpPr><p:cNvPr id="7" name="Group 6"/><p:cNvGrpSpPr/><p:nvPr/>'
        '</p:nvGrpSpPr><p:grpSpPr><a:xfrm><a:off x="6000000" y="1500000"/></a:xfrm></p:grpSpPr>'
        + _sp(_ap("Grouped label A"), "", (1600000, 6000000))
        + _sp(_ap("Grouped label B"), "", (1500000, 6000000))
        + "</p:grpSp>"
        + '<p:sp><p:nvSpPr><p:cNvPr id="9" name="Footer"/><p:cNvSpPr/><p:nvPr>'
        '<p:ph type="ftr"/></p:nvPr></p:nvSpPr><p:spPr/><p:txBody>'
        + _ap("Company confidential")
        + "</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
    )
    table = (
        '<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="4" name="Table 3"/>'
        "<p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr>"
        '<p:xfrm><a:off x="500000" y="1500000"/></p:xfrm><a:graphic><a:graphicData>'
        '<a:tbl><a:tblPr firstRow="1"/>'
        + "<a:tr>"
        + "".join(f"<a:tc><a:txBody>{_ap(t)}</a:txBody></a:tc>" for t in ("Metric", "Value"))
        + "</a:tr><a:tr>"
        + "".join(f"<a:tc><a:txBody>{_ap(t)}</a:txBody></a:tc>" for t in ("Docs/s", "120"))
        + "</a:tr></a:tbl></a:graphicData></a:graphic></p:graphicFrame>"
    )
    chart = (
        '<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="5" name="Chart 4"/>'
        "<p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr>"
        '<p:xfrm><a:off x="500000" y="4000000"/></p:xfrm><a:graphic><a:graphicData>'
        '<c:chart xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" r:id="rId3"/>'
        "</a:graphicData></a:graphic></p:graphicFrame>"
    )
    pic = (
        '<p:pic><p:nvPicPr><p:cNvPr id="6" name="Picture 5" descr="Team photo"/><p:cNvPicPr/>'
        '<p:nvPr/></p:nvPicPr><p:spPr><a:xfrm><a:off x="7000000" y="4000000"/></a:xfrm>'
        "</p:spPr></p:pic>"
    )
    slide2 = (
        f'<?xml version="1.0"?><p:sld {A} {P} {R}><p:cSld><p:spTree>'
        + table
        + chart
        + pic
        + "</p:spTree></p:cSld></p:sld>"
    )
    chart_xml = (
        '<?xml version="1.0"?><c:chartSpace xmlns:c="http://schemas.openxmlformats.org/'
        f'drawingml/2006/chart" {A}><c:chart><c:title><c:tx><c:rich><a:p><a:r>'
        "<a:t>Throughput by format</a:t></a:r></a:p></c:rich></c:tx></c:title><c:plotArea>"
        "<c:barChart><c:ser><c:tx><c:strRef><c:strCache><c:pt><c:v>docs per second</c:v>"
        "</c:pt></c:strCache></c:strRef></c:tx></c:ser></c:barChart></c:plotArea></c:chart>"
        "</c:chartSpace>"
    )
    notes = (
        f'<?xml version="1.0"?><p:notes {A} {P}><p:cSld><p:spTree>'
        + _sp(_ap("slide image"), '<p:ph type="sldImg"/>')
        + _sp(_ap("Mention the benchmark first.") + _ap("Then the demo."), '<p:ph type="body"/>')
        + "</p:spTree></p:cSld></p:notes>"
    )
    pres = (
        f'<?xml version="1.0"?><p:presentation {P} {R}><p:sldIdLst>'
        '<p:sldId id="256" r:id="rId2"/><p:sldId id="257" r:id="rId3"/>'
        "</p:sldIdLst></p:presentation>"
    )
    return zip_bytes(
        {
            "[Content_Types].xml": '<?xml version="1.0"?><Types/>',
            "_rels/.rels": rels(("rId1", "officeDocument", "ppt/presentation.xml")),
            "ppt/presentation.xml": pres,
            "ppt/_rels/presentation.xml.rels": rels(
                ("rId2", "slide", "slides/slide1.xml"), ("rId3", "slide", "slides/slide2.xml")
            ),
            "ppt/slides/slide1.xml": slide1,
            "ppt/slides/_rels/slide1.xml.rels": rels(
                ("rId2", "notesSlide", "../notesSlides/notesSlide1.xml")
            ),
            "ppt/slides/slide2.xml": slide2,
            "ppt/slides/_rels/slide2.xml.rels": rels(("rId3", "chart", "../charts/chart1.xml")),
            "ppt/charts/chart1.xml": chart_xml,
            "ppt/notesSlides/notesSlide1.xml": notes,
        }
    )


def make_xlsx(n_rows: int = 6) -> bytes:
    S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    strings = ["Region", "Month", "Amount", "Total", "North", "South", "Booked"]
    sst = (
        f'<?xml version="1.0"?><sst {S} count="{len(strings)}">'
        + "".join(f"<si><t>{s}</t></si>" for s in strings)
        + "</sst>"
    )
    rows = [
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c></row>'
    ]
    for i in range(2, n_rows + 2):
        region = 4 if i % 2 else 5
        rows.append(
            f'<row r="{i}"><c r="A{i}" t="s"><v>{region}</v></c>'
            f'<c r="B{i}" s="1"><v>{45292 + i}</v></c><c r="C{i}"><v>{i * 10.5}</v></c>'
            f'<c r="D{i}"><f>C{i}*2</f><v>{i * 21}</v></c></row>'
        )
    last = n_rows + 3
    rows.append(
        f'<row r="{last}"><c r="A{last}" t="inlineStr"><is><t>Merged note</t></is></c>'
        f'<c r="B{last}" t="b"><v>1</v></c><c r="C{last}" t="str"><f>"x"&amp;"y"</f><v>xy</v></c>'
        f'</row><row r="{last + 1}"><c r="B{last + 1}" t="s"><v>6</v></c></row>'
    )
    sheet1 = (
        f'<?xml version="1.0"?><worksheet {S}><sheetData>{"".join(rows)}</sheetData>'
        f'<mergeCells count="1"><mergeCell ref="A{last}:A{last + 1}"/></mergeCells></worksheet>'
    )
    sheet2 = (
        f'<?xml version="1.0"?><worksheet {S}><sheetData><row r="1"><c r="A1" t="inlineStr">'
        "<is><t>secret plans</t></is></c></row></sheetData></worksheet>"
    )
    sheet3 = (
        f'<?xml version="1.0"?><worksheet {S}><sheetData><row r="2"><c r="B2" t="inlineStr">'
        "<is><t>Prepared by the finance team</t></is></c></row></sheetData></worksheet>"
    )
    styles = (
        f'<?xml version="1.0"?><styleSheet {S}><cellXfs count="2"><xf numFmtId="0"/>'
        '<xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>'
    )
    wb = (
        f'<?xml version="1.0"?><workbook {S} {R}><sheets>'
        '<sheet name="Sales" sheetId="1" r:id="rId1"/>'
        '<sheet name="Hidden" sheetId="2" state="hidden" r:id="rId2"/>'
        '<sheet name="About" sheetId="3" r:id="rId3"/></sheets></workbook>'
    )
    return zip_bytes(
        {
            "[Content_Types].xml": '<?xml version="1.0"?><Types/>',
            "_rels/.rels": rels(("rId1", "officeDocument", "xl/workbook.xml")),
            "xl/workbook.xml": wb,
            "xl/_rels/workbook.xml.rels": rels(
                ("rId1", "worksheet", "worksheets/sheet1.xml"),
                ("rId2", "worksheet", "worksheets/sheet2.xml"),
                ("rId3", "worksheet", "worksheets/sheet3.xml"),
                ("rId4", "sharedStrings", "sharedStrings.xml"),
                ("rId5", "styles", "styles.xml"),
            ),
            "xl/worksheets/sheet1.xml": sheet1,
            "xl/worksheets/sheet2.xml": sheet2,
            "xl/worksheets/sheet3.xml": sheet3,
            "xl/sharedStrings.xml": sst,
            "xl/styles.xml": styles,
        }
    )


def make_epub() -> bytes:
    chapters = [
        (
            "ch1.xhtml",
            "<h1>Chapter One</h1><p>It was a bright cold day.</p>"
            "<ul><li>first</li><li>second</li></ul>",
        ),
        (
            "ch2.xhtml",
            "<p>A chapter whose heading comes from the table of contents.</p>"
            "<table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>31</td></tr></table>",
        ),
    ]
    items = "".join(
        f'<item id="c{i}" href="text/{n}" media-type="application/xhtml+xml"/>'
        for i, (n, _) in enumerate(chapters)
    )
    links = "".join(
        f'<li><a href="text/{n}">TOC title {i + 1}</a></li>' for i, (n, _) in enumerate(chapters)
    )
    members: dict[str, str | bytes] = {
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": '<?xml version="1.0"?><container version="1.0" '
        'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile '
        'full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>",
        "OEBPS/content.opf": '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" '
        'version="3.0"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<dc:title>A Tiny Book</dc:title><dc:creator>Jo Writer</dc:creator>"
        f"<dc:language>en</dc:language></metadata><manifest>{items}"
        '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
        '</manifest><spine><itemref idref="c0"/><itemref idref="c1"/></spine></package>',
        "OEBPS/nav.xhtml": '<html xmlns="http://www.w3.org/1999/xhtml"><body><nav><ol>'
        f"{links}</ol></nav></body></html>",
    }
    for name, body in chapters:
        members[f"OEBPS/text/{name}"] = (
            '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
            f"<head><title>t</title></head><body>{body}</body></html>"
        )
    return zip_bytes(members, stored_first="mimetype")


def make_eml(with_attachment: bytes | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Alice Example <alice@example.com>"
    msg["To"] = "Bob <bob@example.com>, carol@example.com"
    msg["Subject"] = "Quarterly numbers"
    msg["Date"] = "Tue, 03 Dec 2024 10:00:00 +0000"
    msg["Message-ID"] = "<q4@example.com>"
    msg.set_content("Hi Bob,\n\nThe numbers are attached.\n\n> Can you send them?\n\nAlice\n")
    msg.add_alternative(
        "<html><body><p>Hi Bob,</p><p>The numbers are <b>attached</b>.</p></body></html>",
        subtype="html",
    )
    msg.add_attachment(
        b"region,amount\nNorth,10\nSouth,12\n",
        maintype="text",
        subtype="csv",
        filename="numbers.csv",
    )
    msg.add_attachment(
        b"BEGIN:VCARD\r\nFN:Alice Example\r\nEND:VCARD\r\n",
        maintype="text",
        subtype="vcard",
        filename="alice.vcf",
    )
    if with_attachment is not None:
        msg.add_attachment(
            with_attachment,
            maintype="application",
            subtype="octet-stream",
            filename="report.docx",
        )
    return msg.as_bytes()


ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"'
)


def make_odt() -> bytes:
    body = (
        '<text:h text:outline-level="1">Minutes</text:h>'
        "<text:p>Present: Ann,<text:s/>Bo and Cy"
        '<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation>'
        "<text:note-body><text:p>Cy joined late.</text:p></text:note-body></text:note>.</text:p>"
        '<text:h text:outline-level="2">Decisions</text:h>'
        "<text:list><text:list-item><text:p>Adopt the plan</text:p><text:list><text:list-item>"
        "<text:p>starting in May</text:p></text:list-item></text:list></text:list-item>"
        "<text:list-item><text:p>Review in June</text:p></text:list-item></text:list>"
        "<table:table><table:table-header-rows><table:table-row><table:table-cell><text:p>Owner"
        "</text:p></table:table-cell><table:table-cell><text:p>Task</text:p></table:table-cell>"
        "</table:table-row></table:table-header-rows><table:table-row>"
        '<table:table-cell table:number-rows-spanned="2"><text:p>Ann</text:p></table:table-cell>'
        "<table:table-cell><text:p>Budget</text:p></table:table-cell></table:table-row>"
        "<table:table-row><table:covered-table-cell/><table:table-cell><text:p>Hiring</text:p>"
        "</table:table-cell></table:table-row></table:table>"
        '<text:p><draw:frame draw:name="img1"><draw:image/><svg:title>Org chart</svg:title>'
        "</draw:frame></text:p>"
    )
    content = (
        f'<?xml version="1.0"?><office:document-content {ODF_NS}><office:body>'
        f"<office:text>{body}</office:text></office:body></office:document-content>"
    )
    styles = (
        f'<?xml version="1.0"?><office:document-styles {ODF_NS}><office:master-styles>'
        "<style:master-page><style:footer><text:p>Board minutes — internal</text:p>"
        "</style:footer></style:master-page></office:master-styles></office:document-styles>"
    )
    return zip_bytes(
        {
            "mimetype": "application/vnd.oasis.opendocument.text",
            "content.xml": content,
            "styles.xml": styles,
        },
        stored_first="mimetype",
    )


def make_odp() -> bytes:
    def frame(cls: str, paras: str) -> str:
        return (
            f'<draw:frame presentation:class="{cls}"><draw:text-box>{paras}</draw:text-box>'
            "</draw:frame>"
        )

    pages = (
        '<draw:page draw:name="p1">'
        + frame("title", "<text:p>Kick-off</text:p>")
        + frame(
            "outline",
            "<text:list><text:list-item><text:p>Goals</text:p></text:list-item>"
            "<text:list-item><text:p>Timeline</text:p></text:list-item></text:list>",
        )
        + "<presentation:notes>"
        + frame("notes", "<text:p>Keep it under ten minutes.</text:p>")
        + "</presentation:notes></draw:page>"
        '<draw:page draw:name="p2">'
        + frame("outline", "<text:p>An untitled slide.</text:p>")
        + "</draw:page>"
    )
    content = (
        f'<?xml version="1.0"?><office:document-content {ODF_NS}><office:body>'
        f"<office:presentation>{pages}</office:presentation></office:body>"
        "</office:document-content>"
    )
    return zip_bytes(
        {
            "mimetype": "application/vnd.oasis.opendocument.presentation",
            "content.xml": content,
        },
        stored_first="mimetype",
    )


def make_ods() -> bytes:
    def row(*cells: str, repeat: int = 1) -> str:
        rep = f' table:number-rows-repeated="{repeat}"' if repeat > 1 else ""
        tds = "".join(
            f'<table:table-cell office:value-type="string"><text:p>{c}</text:p></table:table-cell>'
            if c
            else "<table:table-cell/>"
            for c in cells
        )
        return f"<table:table-row{rep}>{tds}</table:table-row>"

    sheet = (
        '<table:table table:name="Budget">'
        + row("Item", "Cost")
        + row("Rent", "1200")
        + row("Food", "450")
        + '<table:table-row table:number-rows-repeated="1048570"><table:table-cell '
        'table:number-columns-repeated="1024"/></table:table-row></table:table>'
        '<table:table table:name="Notes">' + row("Paid on the 1st") + "</table:table>"
    )
    content = (
        f'<?xml version="1.0"?><office:document-content {ODF_NS}><office:body>'
        f"<office:spreadsheet>{sheet}</office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    return zip_bytes(
        {"mimetype": "application/vnd.oasis.opendocument.spreadsheet", "content.xml": content},
        stored_first="mimetype",
    )


CSV_SAMPLE = (
    'id;name;city;note\n1;"Smith; John";Paris;"said ""hi"""\n2;Lee;Rome;\n3;Ng;Oslo;"two\nlines"\n'
)

BUILDERS = {
    "report.docx": make_docx,
    "roadmap.pptx": make_pptx,
    "sales.xlsx": make_xlsx,
    "tiny-book.epub": make_epub,
    "quarterly.eml": make_eml,
    "minutes.odt": make_odt,
    "kickoff.odp": make_odp,
    "budget.ods": make_ods,
    "people.csv": lambda: CSV_SAMPLE.encode(),
}


def write_samples(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, build in BUILDERS.items():
        (folder / name).write_bytes(build())


# -- Outlook .msg: a minimal OLE compound file writer -------------------------------------------

_FREE, _END, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def cfb_bytes(tree: dict[str, object]) -> bytes:
    """A version-3 compound file holding ``tree`` (name -> bytes for a stream, or a dict for a
    storage). Streams must be under 4096 bytes: they all live in the mini stream."""
    import struct

    entries: list[dict[str, int | str]] = []  # flat directory, root first
    streams: list[tuple[int, bytes]] = []

    def add(name: str, node: object, etype: int) -> int:
        idx = len(entries)
        entries.append({"name": name, "type": etype, "child": _NOSTREAM, "right": _NOSTREAM})
        if isinstance(node, dict):
            prev = None
            for child_name, child in node.items():
                cid = add(child_name, child, 1 if isinstance(child, dict) else 2)
                if prev is None:
                    entries[idx]["child"] = cid
                else:
                    entries[prev]["right"] = cid
                prev = cid
        else:
            assert isinstance(node, bytes) and len(node) < 4096
            streams.append((idx, node))
        return idx

    add("Root Entry", tree, 5)
    # The mini stream: 64-byte mini sectors, chained in the mini FAT.
    mini = b""
    minifat: list[int] = []
    starts: dict[int, tuple[int, int]] = {}
    for idx, data in streams:
        n = max(1, (len(data) + 63) // 64)
        first = len(minifat)
        starts[idx] = (first, len(data))
        minifat.extend(first + i + 1 if i < n - 1 else _END for i in range(n))
        mini += data + b"\x00" * (n * 64 - len(data))
    minifat += [_FREE] * (-len(minifat) % 128)
    n_dir = (len(entries) * 128 + 511) // 512
    n_minifat = len(minifat) // 128
    n_mini = (len(mini) + 511) // 512
    n_fat = 1
    while n_fat + n_dir + n_minifat + n_mini > n_fat * 128:
        n_fat += 1
    fat = [_FREE] * (n_fat * 128)
    for i in range(n_fat):
        fat[i] = _FATSECT
    pos = n_fat
    chain_starts = []
    for count in (n_dir, n_minifat, n_mini):
        chain_starts.append(pos)
        for i in range(count):
            fat[pos + i] = pos + i + 1 if i < count - 1 else _END
        pos += count
    dir_start, minifat_start, mini_start = chain_starts
    dirs = b""
    for i, e in enumerate(entries):
        name = str(e["name"]).encode("utf-16-le") + b"\x00\x00"
        if i == 0:
            start, size = mini_start, len(mini)
        else:
            start, size = starts.get(i, (_END, 0))
        dirs += struct.pack(
            "<64sHBBIII16sIQQIII",
            name,
            len(name),
            int(e["type"]),
            1,
            _NOSTREAM,
            int(e["right"]),
            int(e["child"]),
            b"\x00" * 16,
            0,
            0,
            0,
            start,
            size,
            0,
        )
    dirs += b"\x00" * (n_dir * 512 - len(dirs))
    difat = list(range(n_fat)) + [_FREE] * (109 - n_fat)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        b"\x00" * 16,
        0x3E,
        3,
        0xFFFE,
        9,
        6,
        b"\x00" * 6,
        0,
        n_fat,
        dir_start,
        0,
        4096,
        minifat_start,
        n_minifat,
        _END,
        0,
    ) + struct.pack("<109I", *difat)
    body = struct.pack(f"<{len(fat)}I", *fat) + dirs
    body += struct.pack(f"<{len(minifat)}I", *minifat)
    body += mini + b"\x00" * (n_mini * 512 - len(mini))
    return header + body


def make_msg() -> bytes:
    import struct

    def s(pid: int, text: str) -> tuple[str, bytes]:
        return f"__substg1.0_{pid:04X}001F", text.encode("utf-16-le")

    # 2024-12-03T10:00:00Z as a FILETIME in the fixed-size property stream.
    ft = 116444736000000000 + 1733220000 * 10_000_000
    props = b"\x00" * 32 + struct.pack("<HHIQ", 0x0040, 0x0039, 2, ft)
    attach = dict(
        [
            ("__substg1.0_3707001F", "notes.csv".encode("utf-16-le")),
            ("__substg1.0_37010102", b"item,qty\npens,4\n"),
            ("__substg1.0_370E001F", "text/csv".encode("utf-16-le")),
        ]
    )
    tree: dict[str, object] = dict(
        [
            s(0x0037, "Supplies order"),
            s(0x0C1A, "Sam Sender"),
            s(0x5D01, "sam@example.com"),
            s(0x0E04, "Office Manager; Ana Lee"),
            s(0x1000, "Hello,\r\n\r\nPlease order the supplies listed.\r\n\r\nSam"),
            ("__properties_version1.0", props),
            ("__attach_version1.0_#00000000", attach),
        ]
    )
    return cfb_bytes(tree)


BUILDERS["supplies.msg"] = make_msg


if __name__ == "__main__":
    write_samples(Path(__file__).resolve().parents[2] / "sample_docs" / "office")
