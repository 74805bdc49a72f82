"""Page reader for any OpenAI-compatible chat-completions endpoint with image input.

Each batch goes out as one request: the page images (base64 PNG, each labelled with its page
number) and the context carried from the previous batch (heading path, the open block), with a JSON
schema for the reply. The reply is validated; transport errors, HTTP 429/5xx, timeouts and
malformed replies are retried with exponential backoff, and when the retries run out the document
becomes an error record (``ChunkError``), never a crash.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from chunkwise.chunkers.options import VisionOptions
from chunkwise.chunkers.vision import Block, Context, PageBatch

from chunkwise.errors import ChunkError, UsageError
from chunkwise.kinds import LAYOUT_KINDS

log = logging.getLogger("chunkwise.vision")

API_KEY_ENV = "CHUNK_VISION_API_KEY"
DEFAULT_TIMEOUT = VisionOptions.timeout
DEFAULT_RETRIES = VisionOptions.retries
DEFAULT_BACKOFF = VisionOptions.backoff

SYSTEM_PROMPT = """You read document pages and return their content as structured blocks, in \
reading order, for a retrieval system. Rules:
- kinds: heading (with level 1-3: 1 = document title or chapter, 2 = section, 3 = subsection),
  paragraph, list (one block per list; every item in "items", numbered steps stay in one list),
  table ("rows": every row as a list of cell strings, header row(s) first, "header_rows" = how many
  leading rows are header rows), figure (a short description of the image in "text"), caption.
- leave out running page headers, page footers and page numbers.
- copy the text exactly; do not summarise or translate.
- "page" is the page number written above the image the block is on.
- "continues" is true only for the first block of a page when it carries on the content that was
  cut by the page break: the open block of the context you are given (an unfinished paragraph, a
  list, or a table whose rows go on), or the last block of the previous page in this batch. A table
  continued on a new page keeps the same columns; if the header row is repeated there, include it
  and set header_rows accordingly.
Reply with JSON only, matching the schema."""

BLOCK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "page", "text", "level", "items", "rows", "header_rows", "continues"],
    "properties": {
        "kind": {"type": "string", "enum": list(LAYOUT_KINDS)},
        "page": {"type": "integer"},
        "text": {"type": "string"},
        "level": {"type": ["integer", "null"]},
        "items": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
        "header_rows": {"type": "integer"},
        "continues": {"type": "boolean"},
    },
}
REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["blocks"],
    "properties": {"blocks": {"type": "array", "items": BLOCK_SCHEMA}},
}


class MalformedReply(Exception):
    """The endpoint answered, but not with blocks we can use."""


class _Retryable(Exception):
    pass


class _SchemaRefused(Exception):
    pass


@dataclass
class Prepared:
    pages: list[int]  # 0-based
    images: list[str]  # base64 PNG, same order


def chat_url(endpoint: str) -> str:
    url = endpoint.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


class OpenAIReader:
    name = "openai"

    def __init__(
        self,
        endpoint: str,
        model: str,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise UsageError(f"--vision-endpoint must be an http(s) URL, got {endpoint!r}")
        self.url = chat_url(endpoint)
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        self.use_schema = True

    @classmethod
    def from_options(cls, options: VisionOptions) -> OpenAIReader:
        if not options.endpoint:
            raise UsageError("--vision-backend openai needs --vision-endpoint URL")
        if not options.model:
            raise UsageError("--vision-backend openai needs --vision-model NAME")
        return cls(
            options.endpoint,
            options.model,
            api_key=os.environ.get(API_KEY_ENV) or None,
            timeout=options.timeout,
            retries=options.retries,
            backoff=options.backoff,
        )

    # -- request ---------------------------------------------------------------------------------

    def prepare(self, batch: PageBatch) -> Prepared:
        return Prepared(
            list(batch.pages),
            [base64.b64encode(batch.image(p)).decode("ascii") for p in batch.pages],
        )

    def messages(self, prepared: Prepared, context: Context) -> list[dict[str, Any]]:
        first, last = prepared.pages[0] + 1, prepared.pages[-1] + 1
        intro = (
            f"Pages {first}-{last} of the document. Context carried from the pages before "
            f"(heading path and the block still open at the last page break):\n"
            f"{json.dumps(context.to_dict(), ensure_ascii=False)}"
        )
        content: list[dict[str, Any]] = [{"type": "text", "text": intro}]
        for pno, b64 in zip(prepared.pages, prepared.images, strict=True):
            content.append({"type": "text", "text": f"Page {pno + 1}:"})
            content.append(
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}}
            )
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}]

    def body(self, prepared: Prepared, context: Context) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "temperature": 0,
            "messages": self.messages(prepared, context),
        }
        if self.use_schema:
            out["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "page_blocks", "strict": True, "schema": REPLY_SCHEMA},
            }
        return out

    def read(self, prepared: Prepared, context: Context) -> list[Block]:
        pages = f"pages {prepared.pages[0] + 1}-{prepared.pages[-1] + 1}"
        last: Exception | None = None
        attempt = 0
        while attempt <= self.retries:
            if attempt and last is not None:
                delay = self.backoff * 2 ** (attempt - 1)
                log.info(
                    "vision endpoint: retry %d for %s in %.1fs (%s)", attempt, pages, delay, last
                )
                time.sleep(delay)
            data = json.dumps(self.body(prepared, context)).encode("utf-8")
            try:
                reply = self._post(data)
                return parse_reply(reply, prepared.pages)
            except _SchemaRefused as exc:
                # Servers without structured output (older vLLM, Ollama, llama.cpp) answer 400 to
                # response_format; the prompt asks for the same JSON and the reply is validated,
                # so ask again at once without it (not counted as a retry).
                log.warning("vision endpoint does not take a JSON schema (%s); asking without", exc)
                self.use_schema = False
                continue
            except (_Retryable, MalformedReply) as exc:
                last = exc
            attempt += 1
        kind = "malformed reply" if isinstance(last, MalformedReply) else "request failed"
        raise ChunkError(
            f"vision endpoint {kind} for {pages} after {self.retries + 1} attempt(s): {last}"
        )

    def _post(self, data: bytes) -> bytes:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            detail = _short(exc.read())
            if exc.code == 429 or exc.code >= 500:
                raise _Retryable(f"HTTP {exc.code}: {detail}") from exc
            if exc.code in (400, 422) and self.use_schema and "response_format" in detail:
                raise _SchemaRefused(f"HTTP {exc.code}: {detail}") from exc
            # 4xx other than 429 will not get better by asking again (bad key, bad model...).
            raise ChunkError(
                f"vision endpoint refused the request: HTTP {exc.code}: {detail}"
            ) from exc
        except TimeoutError as exc:
            raise _Retryable(f"no reply within {self.timeout:g}s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise _Retryable(f"no reply within {self.timeout:g}s") from exc
            raise _Retryable(f"cannot reach {self.url}: {exc.reason}") from exc
        except (ConnectionError, OSError) as exc:
            raise _Retryable(f"connection failed: {exc}") from exc


def _short(raw: bytes, n: int = 200) -> str:
    return " ".join(raw.decode("utf-8", "replace").split())[:n]


def _strip_fences(text: str) -> str:
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        if t.rstrip().endswith("```"):
            t = t.rstrip()[:-3]
    return t.strip()


def parse_reply(raw: bytes, pages: list[int]) -> list[Block]:
    """Blocks from a chat-completions reply; MalformedReply on anything off-schema."""
    try:
        envelope = json.loads(raw)
        content = envelope["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise MalformedReply(f"not a chat-completions reply: {_short(raw, 120)}") from exc
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        raise MalformedReply("message content is not text")
    try:
        payload = json.loads(_strip_fences(content))
    except ValueError as exc:
        raise MalformedReply(
            f"message content is not JSON: {_short(content.encode(), 120)}"
        ) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("blocks"), list):
        raise MalformedReply('JSON reply has no "blocks" list')
    valid_pages = {p + 1 for p in pages}
    blocks: list[Block] = []
    for i, raw_block in enumerate(payload["blocks"]):
        blocks.append(_block(raw_block, i, valid_pages))
    # Reading order across the batch: pages in order, the reader's order within a page.
    return sorted(blocks, key=lambda b: b.page)


def _block(d: Any, i: int, valid_pages: set[int]) -> Block:
    if not isinstance(d, dict):
        raise MalformedReply(f"block {i} is not an object")
    kind = d.get("kind")
    if kind not in LAYOUT_KINDS:
        raise MalformedReply(f"block {i} has unknown kind {kind!r}")
    page = d.get("page")
    if not isinstance(page, int) or isinstance(page, bool) or page not in valid_pages:
        raise MalformedReply(f"block {i} is on page {page!r}, not one of {sorted(valid_pages)}")
    text = d.get("text", "")
    if not isinstance(text, str):
        raise MalformedReply(f"block {i}: text is not a string")
    level = d.get("level")
    if level is not None and (not isinstance(level, int) or isinstance(level, bool)):
        raise MalformedReply(f"block {i}: level is not an integer")
    items = d.get("items") or []
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise MalformedReply(f"block {i}: items is not a list of strings")
    rows = d.get("rows") or []
    if not isinstance(rows, list) or not all(
        isinstance(r, list) and all(isinstance(c, str | int | float) for c in r) for r in rows
    ):
        raise MalformedReply(f"block {i}: rows is not a list of lists of cells")
    header_rows = d.get("header_rows", 0) or 0
    if not isinstance(header_rows, int) or header_rows < 0:
        raise MalformedReply(f"block {i}: header_rows is not a non-negative integer")
    cont = d.get("continues")
    if cont is not None and not isinstance(cont, bool):
        raise MalformedReply(f"block {i}: continues is not a boolean")
    if kind == "heading" and not text.strip():
        raise MalformedReply(f"block {i}: heading without text")
    if kind == "table" and not rows:
        raise MalformedReply(f"block {i}: table without rows")
    return Block(
        kind=kind,
        page=page,
        text=text,
        level=level if kind == "heading" else None,
        items=list(items),
        rows=[[str(c) for c in r] for r in rows],
        header_rows=min(header_rows, len(rows)),
        continues=cont,
    )
