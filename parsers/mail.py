"""E-mail messages (.eml, RFC 5322/MIME), with the standard library's ``email`` package.

The subject is the heading; the body follows: the ``text/plain`` part when there is one (blank-line
paragraphs, ``>`` quoted lines as ``quote`` elements), else the ``text/html`` part read by the HTML
parser's full-page reader. Headers (from, to, cc, date, subject, message id) go to metadata.
Attachments are listed in ``metadata["attachments"]`` and handed to the pipeline on
``Document.attachments``: each one in a format chunkwise reads becomes a document of its own, with
source ``mail.eml#name`` (a forwarded message inside is parsed the same way, nested up to three
levels).
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from chunkwise.blocks import Block, html_blocks, render
from chunkwise.errors import ParseError
from chunkwise.parsing import BaseParser
from chunkwise.types import Attachment, Document

_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]{0,76}:", re.M)
_KNOWN_HEADERS = (b"from:", b"to:", b"subject:", b"date:", b"received:", b"message-id:", b"mime-")


def _looks_like_mail(data: bytes) -> bool:
    head = data[:8192].lower()
    found = sum(1 for h in _KNOWN_HEADERS if re.search(rb"(?m)^" + re.escape(h), head))
    return found >= 2 and bool(_HEADER_LINE.match(data.lstrip()[:80]))


def _addresses(values: list[str]) -> list[str]:
    out = []
    for name, addr in getaddresses(values):
        if addr and name:
            out.append(f"{name} <{addr}>")
        elif addr or name:
            out.append(addr or name)
    return out


def text_blocks(body: str) -> list[Block]:
    """Plain-text body: blank-line separated paragraphs; runs of ``>`` lines are quotes."""
    blocks: list[Block] = []
    for para in re.split(r"\n[ \t]*\n", body.replace("\r\n", "\n").replace("\r", "\n")):
        if not para.strip():
            continue
        lines = para.split("\n")
        run: list[str] = []
        quoted = False
        for ln in lines:
            q = ln.lstrip().startswith(">")
            if run and q != quoted:
                blocks.append(Block("quote" if quoted else "paragraph", "\n".join(run)))
                run = []
            quoted = q
            run.append(ln)
        if run:
            blocks.append(Block("quote" if quoted else "paragraph", "\n".join(run)))
    return blocks


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload() or "")
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _attachments(msg: EmailMessage) -> tuple[list[Attachment], list[dict[str, Any]]]:
    files: list[Attachment] = []
    listed: list[dict[str, Any]] = []
    used: set[str] = set()
    for part in msg.iter_attachments():
        ctype = part.get_content_type()
        name = part.get_filename()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            sub = inner[0] if isinstance(inner, list) and inner else inner
            data = sub.as_bytes() if isinstance(sub, Message) else b""
            subject = str(sub.get("subject", "") or "") if isinstance(sub, Message) else ""
            name = name or (f"{subject[:60]}.eml" if subject else "message.eml")
        else:
            raw = part.get_payload(decode=True)
            data = raw if isinstance(raw, bytes) else b""
            if not name:
                if part.get_content_disposition() != "attachment":
                    continue  # inline images of an HTML body
                name = "attachment"
        name = name.replace("/", "_").replace("\\", "_").strip() or "attachment"
        base, n = name, 2
        while name in used:
            name = f"{n}-{base}"
            n += 1
        used.add(name)
        files.append(Attachment(name, data, ctype))
        listed.append({"name": name, "content_type": ctype, "size": len(data)})
    return files, listed


class EmlParser(BaseParser):
    name = "eml"
    extensions = (".eml",)
    default_chunker = "section"

    def parse_bytes(self, data: bytes, source: str) -> Document:
        if not data.strip():
            raise ParseError("empty file (0 bytes)" if not data else "empty file (no content)")
        if b"\x00" in data[:4096] or not _looks_like_mail(data):
            raise ParseError("not an e-mail message: no RFC 5322 headers (From:, Subject:...)")
        msg = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        meta: dict[str, Any] = {"mime": "message/rfc822"}
        subject = " ".join(str(msg.get("subject", "") or "").split())
        for key in ("from", "to", "cc", "reply-to"):
            values = [str(v) for v in msg.get_all(key, [])]
            if values:
                addrs = _addresses(values)
                meta[key.replace("-", "_")] = addrs[0] if key == "from" and addrs else addrs
        if subject:
            meta["subject"] = meta["title"] = subject
        date = msg.get("date")
        if date:
            try:
                meta["date"] = parsedate_to_datetime(str(date)).isoformat()
            except (TypeError, ValueError):
                meta["date"] = str(date)
        if msg.get("message-id"):
            meta["message_id"] = str(msg.get("message-id")).strip()
        blocks: list[Block] = []
        if subject:
            blocks.append(Block("heading", subject, level=1))
        body = msg.get_body(preferencelist=("plain", "html"))
        if body is not None:
            text = _part_text(body)
            if body.get_content_type() == "text/html":
                blocks.extend(html_blocks(text) if "<" in text else text_blocks(text))
                meta["body"] = "html"
            else:
                blocks.extend(text_blocks(text))
                meta["body"] = "plain"
        files, listed = _attachments(msg)
        if listed:
            meta["attachments"] = listed
        text, elements = render(blocks)
        doc = self.document(data, source, text, elements, meta)
        if files:
            import dataclasses

            doc = dataclasses.replace(doc, attachments=tuple(files))
        return doc
