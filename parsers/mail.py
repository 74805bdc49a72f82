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

import contextlib
import dataclasses
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


def _mail_document(
    parser: BaseParser,
    data: bytes,
    source: str,
    blocks: list[Block],
    meta: dict[str, Any],
    files: list[Attachment],
    listed: list[dict[str, Any]],
) -> Document:
    """The message's Document (.eml or .msg): its blocks, the attachment list in metadata, and the
    readable attachments carried for the pipeline to parse as documents of their own."""
    if listed:
        meta["attachments"] = listed
    text, elements = render(blocks)
    doc = parser.document(data, source, text, elements, meta)
    return dataclasses.replace(doc, attachments=tuple(files)) if files else doc


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
        # The same headers read without the structured parser, for values it chokes on.
        raw = email.message_from_bytes(data, policy=email.policy.compat32)

        def header(key: str) -> list[str]:
            try:
                return [str(v) for v in msg.get_all(key, [])]
            except Exception:  # a malformed address list breaks the structured parser
                return [" ".join(str(v).split()) for v in raw.get_all(key, [])]

        meta: dict[str, Any] = {"mime": "message/rfc822"}
        subject = " ".join(" ".join(header("subject")).split())
        for key in ("from", "to", "cc", "reply-to"):
            values = header(key)
            if values:
                addrs = _addresses(values)
                meta[key.replace("-", "_")] = addrs[0] if key == "from" and addrs else addrs
        if subject:
            meta["subject"] = meta["title"] = subject
        dates = header("date")
        if dates:
            try:
                meta["date"] = parsedate_to_datetime(dates[0]).isoformat()
            except (TypeError, ValueError, IndexError):
                meta["date"] = dates[0]
        ids = header("message-id")
        if ids:
            meta["message_id"] = ids[0].strip()
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
        return _mail_document(self, data, source, blocks, meta, files, listed)


# -- Outlook .msg -------------------------------------------------------------------------------

_MSG_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_FILETIME_EPOCH = 116444736000000000  # 1601-01-01 -> 1970-01-01 in 100 ns


def _msg_streams(ole: Any, prefix: list[str]) -> dict[int, tuple[int, list[str]]]:
    """Property id -> (type, path) of the ``__substg1.0_IIIITTTT`` streams under ``prefix``."""
    out: dict[int, tuple[int, list[str]]] = {}
    for path in ole.listdir(streams=True, storages=False):
        if len(path) != len(prefix) + 1 or path[: len(prefix)] != prefix:
            continue
        name = path[-1]
        if not name.startswith("__substg1.0_") or len(name) != 20:
            continue
        try:
            pid, ptype = int(name[12:16], 16), int(name[16:20], 16)
        except ValueError:
            continue
        out.setdefault(pid, (ptype, path))
    return out


def _msg_value(ole: Any, streams: dict[int, tuple[int, list[str]]], pid: int) -> Any:
    if pid not in streams:
        return None
    ptype, path = streams[pid]
    data = ole.openstream(path).read()
    if ptype == 0x001F:
        return data.decode("utf-16-le", errors="replace").rstrip("\x00")
    if ptype == 0x001E:
        return data.decode("cp1252", errors="replace").rstrip("\x00")
    return data


def _msg_time(ole: Any, pid: int) -> str | None:
    """A PT_SYSTIME property of the message, from its fixed-size property stream."""
    import datetime as dt
    import struct

    if not ole.exists("__properties_version1.0"):
        return None
    raw = ole.openstream("__properties_version1.0").read()
    for off in range(32, len(raw) - 15, 16):
        ptype, prop = struct.unpack_from("<HH", raw, off)
        if prop == pid and ptype == 0x0040:
            (ft,) = struct.unpack_from("<Q", raw, off + 8)
            if ft <= _FILETIME_EPOCH:
                return None
            when = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(
                microseconds=(ft - _FILETIME_EPOCH) // 10
            )
            return when.isoformat()
    return None


class MsgParser(BaseParser):
    """Outlook .msg messages (an OLE compound file of MAPI properties), read with olefile: the
    same document shape as .eml (subject heading, body, headers in metadata, attachments as
    documents of their own)."""

    name = "msg"
    extensions = (".msg",)
    default_chunker = "section"

    def parse_bytes(self, data: bytes, source: str) -> Document:
        import olefile

        if not data.startswith(_MSG_MAGIC):
            raise ParseError("not an Outlook .msg file (no OLE compound file header)")
        try:
            ole = olefile.OleFileIO(data)
        except Exception as exc:  # olefile raises OSError and its own errors on damage
            raise ParseError(f"damaged Outlook .msg file: {exc}") from exc
        try:
            return self._read(ole, data, source)
        except (OSError, ValueError, EOFError) as exc:
            raise ParseError(f"damaged Outlook .msg file: {exc}") from exc
        finally:
            ole.close()

    def _read(self, ole: Any, data: bytes, source: str) -> Document:
        top = _msg_streams(ole, [])
        if 0x0037 not in top and 0x1000 not in top and 0x1013 not in top:
            raise ParseError("not an Outlook message: no subject or body properties")
        meta: dict[str, Any] = {"mime": "application/vnd.ms-outlook"}
        subject = " ".join(str(_msg_value(ole, top, 0x0037) or "").split())
        if subject:
            meta["subject"] = meta["title"] = subject
        name = _msg_value(ole, top, 0x0C1A)
        addr = _msg_value(ole, top, 0x5D01) or _msg_value(ole, top, 0x0C1F)
        if name or addr:
            meta["from"] = f"{name} <{addr}>" if name and addr else str(name or addr)
        for pid, key in ((0x0E04, "to"), (0x0E03, "cc")):
            value = _msg_value(ole, top, pid)
            if value:
                meta[key] = [v.strip() for v in str(value).split(";") if v.strip()]
        headers = _msg_value(ole, top, 0x007D)
        if headers:
            parsed = email.message_from_string(str(headers), policy=email.policy.default)
            if parsed.get("message-id"):
                meta["message_id"] = str(parsed["message-id"]).strip()
            if parsed.get("date") and "date" not in meta:
                with contextlib.suppress(TypeError, ValueError):
                    meta["date"] = parsedate_to_datetime(str(parsed["date"])).isoformat()
        when = _msg_time(ole, 0x0039) or _msg_time(ole, 0x0E06)
        if when and "date" not in meta:
            meta["date"] = when
        blocks: list[Block] = []
        if subject:
            blocks.append(Block("heading", subject, level=1))
        body = _msg_value(ole, top, 0x1000)
        html = _msg_value(ole, top, 0x1013)
        if body and str(body).strip():
            blocks.extend(text_blocks(str(body)))
            meta["body"] = "plain"
        elif html:
            raw = html if isinstance(html, bytes) else str(html).encode("utf-8")
            from chunkwise.parsers.html import decode_html

            blocks.extend(html_blocks(decode_html(raw)[0]))
            meta["body"] = "html"
        files: list[Attachment] = []
        listed: list[dict[str, Any]] = []
        storages = sorted(
            {p[0] for p in ole.listdir(streams=True) if p[0].startswith("__attach_version1.0_")}
        )
        for st in storages:
            props = _msg_streams(ole, [st])
            fname = _msg_value(ole, props, 0x3707) or _msg_value(ole, props, 0x3704) or ""
            payload = _msg_value(ole, props, 0x3701)
            mime = str(_msg_value(ole, props, 0x370E) or "")
            fname = str(fname).replace("/", "_").replace("\\", "_").strip() or "attachment"
            if not isinstance(payload, bytes):
                listed.append({"name": fname, "content_type": mime or "embedded", "size": 0})
                continue  # an embedded message or OLE object: listed, not read
            files.append(Attachment(fname, payload, mime))
            listed.append({"name": fname, "content_type": mime, "size": len(payload)})
        return _mail_document(self, data, source, blocks, meta, files, listed)
