"""The OpenAI-compatible page reader against a stand-in server on 127.0.0.1 (no network)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from chunkwise.chunkers.options import VisionOptions
from chunkwise.chunkers.vision import VisionChunker
from chunkwise.chunkers.vision_openai import MalformedReply, OpenAIReader, chat_url, parse_reply

from chunkwise.chunking import ChunkerConfig
from chunkwise.errors import ChunkError, UsageError
from chunkwise.types import Document, doc_id_for

HEADER = ["Item", "Qty"]

Reply = Callable[[dict[str, Any], int], tuple[int, bytes, float]]


class FakeEndpoint:
    """Records every request; ``reply(body, n)`` gives (status, payload, delay) for request n."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                endpoint.requests.append(body)
                endpoint.headers.append(dict(self.headers))
                status, payload, delay = endpoint.reply(body, len(endpoint.requests))
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def completion(blocks: list[dict[str, Any]], fenced: bool = False) -> bytes:
    content = json.dumps({"blocks": blocks})
    if fenced:
        content = f"```json\n{content}\n```"
    return json.dumps(
        {"choices": [{"message": {"role": "assistant", "content": content}}]}
    ).encode()


def block(kind: str, page: int, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": kind,
        "page": page,
        "text": "",
        "level": None,
        "items": [],
        "rows": [],
        "header_rows": 0,
        "continues": False,
    }
    base.update(kw)
    return base


PAGES: dict[int, list[dict[str, Any]]] = {
    1: [
        block("heading", 1, text="Inventory", level=1),
        block("paragraph", 1, text="Stock counted on the first of the month."),
        block("table", 1, rows=[HEADER, ["bolts", "10"], ["nuts", "12"]], header_rows=1),
    ],
    2: [block("table", 2, rows=[["screws", "7"], ["washers", "3"]], continues=True)],
    3: [
        block("table", 3, rows=[HEADER, ["rivets", "5"]], header_rows=1, continues=True),
        block("list", 3, items=["1. Count.", "2. Record.", "3. Sign."]),
    ],
}


def pages_of(body: dict[str, Any]) -> list[int]:
    texts = [p["text"] for p in body["messages"][1]["content"] if p["type"] == "text"]
    return [int(t.split()[1].rstrip(":")) for t in texts if t.startswith("Page ")]


def good_reply(body: dict[str, Any], n: int) -> tuple[int, bytes, float]:
    blocks = [b for p in pages_of(body) for b in PAGES.get(p, [])]
    return 200, completion(blocks, fenced=n == 2), 0.0


def sample_doc(tmp_path: Path, pages: int = 3) -> Document:
    import pymupdf

    pdf = pymupdf.open()
    for i in range(pages):
        pdf.new_page(width=200, height=200).insert_text((20, 40), f"Inventory page {i + 1}")
    data = pdf.tobytes()
    path = tmp_path / "inv.pdf"
    path.write_bytes(data)
    text = (
        "Inventory\n\nStock counted on the first of the month.\n\nItem Qty\nbolts 10\nnuts 12\n"
        "screws 7\nwashers 3\nItem Qty\nrivets 5\n\n1. Count.\n2. Record.\n3. Sign."
    )
    return Document(str(path), doc_id_for(data), text, (), {}, "pdf")


def chunker(url: str, **extra: Any) -> VisionChunker:
    opts = {
        "backend": "openai",
        "endpoint": url,
        "model": "test-vlm",
        "pages_per_batch": 2,
        "timeout": 2.0,
        "retries": 2,
        "backoff": 0.01,
        **extra,
    }
    return VisionChunker(ChunkerConfig(max_tokens=512), opts)


def test_good_reply_with_context_across_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHUNK_VISION_API_KEY", "sk-test")
    with FakeEndpoint(good_reply) as ep:
        chunks = list(chunker(ep.url).chunk(sample_doc(tmp_path)))
    # Two batches (pages 1-2, page 3), one request each, images and model in the request.
    assert len(ep.requests) == 2
    first, second = ep.requests
    assert first["model"] == "test-vlm"
    assert first["response_format"]["json_schema"]["strict"] is True
    images = [p for p in first["messages"][1]["content"] if p["type"] == "image_url"]
    assert len(images) == 2
    assert all(i["image_url"]["url"].startswith("data:image/png;base64,iVBOR") for i in images)
    assert pages_of(first) == [1, 2] and pages_of(second) == [3]
    assert ep.headers[0]["Authorization"] == "Bearer sk-test"
    # The second batch is told the heading path and the open table with its header.
    intro = second["messages"][1]["content"][0]["text"]
    context = json.loads(intro.split("\n", 1)[1])
    assert context["headings"] == ["Inventory"]
    assert context["open_block"]["kind"] == "table"
    assert context["open_block"]["header_rows"] == [HEADER]
    # One logical table across three pages; the header repeated on page 3 is dropped.
    tables = [c for c in chunks if c.kind == "table"]
    assert len(tables) == 1
    assert tables[0].text.splitlines() == [
        "| Item | Qty |",
        "|---|---|",
        "| bolts | 10 |",
        "| nuts | 12 |",
        "| screws | 7 |",
        "| washers | 3 |",
        "| rivets | 5 |",
    ]
    assert tables[0].pages == (1, 2, 3)
    assert tables[0].headings == ("Inventory",)
    assert [c.kind for c in chunks] == ["text", "table", "list"]
    assert chunks[2].text == "1. Count.\n2. Record.\n3. Sign."
    assert all(c.continues == "false" for c in chunks)
    assert all(c.metadata["backend"] == "openai" for c in chunks)


def test_server_error_is_retried(tmp_path: Path) -> None:
    def flaky(body: dict[str, Any], n: int) -> tuple[int, bytes, float]:
        if n == 1:
            return 503, b'{"error": "overloaded"}', 0.0
        return good_reply(body, n)

    with FakeEndpoint(flaky) as ep:
        chunks = list(chunker(ep.url).chunk(sample_doc(tmp_path)))
    assert len(ep.requests) == 3
    assert [c.kind for c in chunks] == ["text", "table", "list"]


def test_malformed_json_is_a_document_error_after_retries(tmp_path: Path) -> None:
    def broken(body: dict[str, Any], n: int) -> tuple[int, bytes, float]:
        msg = {"choices": [{"message": {"content": '{"blocks": [{"kind": "paragraph", '}}]}
        return 200, json.dumps(msg).encode(), 0.0

    doc = sample_doc(tmp_path)
    with (
        FakeEndpoint(broken) as ep,
        pytest.raises(ChunkError, match="malformed reply for pages 1-2 after 3 attempt"),
    ):
        list(chunker(ep.url).chunk(doc))
    assert len(ep.requests) == 3


def test_timeout_is_a_document_error(tmp_path: Path) -> None:
    def slow(body: dict[str, Any], n: int) -> tuple[int, bytes, float]:
        return 200, completion([]), 1.0

    start = time.monotonic()
    with FakeEndpoint(slow) as ep:
        c = chunker(ep.url, timeout=0.2, retries=1)
        with pytest.raises(ChunkError, match=r"request failed .* no reply within 0.2s"):
            list(c.chunk(sample_doc(tmp_path)))
    assert len(ep.requests) == 2
    assert time.monotonic() - start < 5


def test_client_error_is_not_retried(tmp_path: Path) -> None:
    doc = sample_doc(tmp_path)
    with (
        FakeEndpoint(lambda b, n: (401, b'{"error": "bad key"}', 0.0)) as ep,
        pytest.raises(ChunkError, match="HTTP 401"),
    ):
        list(chunker(ep.url).chunk(doc))
    assert len(ep.requests) == 1


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ([block("poem", 1, text="x")], "unknown kind"),
        ([block("paragraph", 9, text="x")], "on page 9"),
        ([block("table", 1, rows=[])], "table without rows"),
        ([block("list", 1, items=[1, 2])], "items"),
        ([block("heading", 1, text=" ", level=1)], "heading without text"),
        ([block("paragraph", 1, text="x", continues="yes")], "continues"),
    ],
)
def test_reply_validation(blocks: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(MalformedReply, match=message):
        parse_reply(completion(blocks), [0, 1])


def test_reply_validation_envelope() -> None:
    with pytest.raises(MalformedReply, match="not a chat-completions reply"):
        parse_reply(b'{"id": 1}', [0])
    with pytest.raises(MalformedReply, match='no "blocks"'):
        msg = {"choices": [{"message": {"content": '{"items": []}'}}]}
        parse_reply(json.dumps(msg).encode(), [0])
    ok = parse_reply(
        completion([block("paragraph", 2, text="b"), block("caption", 1, text="a")]), [0, 1]
    )
    assert [(b.kind, b.page) for b in ok] == [("caption", 1), ("paragraph", 2)]


def test_options() -> None:
    assert chat_url("http://h/v1") == "http://h/v1/chat/completions"
    assert chat_url("http://h/v1/chat/completions/") == "http://h/v1/chat/completions"
    with pytest.raises(UsageError, match="vision-model"):
        OpenAIReader.from_options(VisionOptions(endpoint="http://h"))
    with pytest.raises(UsageError, match="http"):
        OpenAIReader.from_options(VisionOptions(endpoint="ftp://h", model="m"))


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    with FakeEndpoint(lambda b, n: (401, b'{"error": "bad key"}', 0.0)) as ep:
        yield ep


def test_cli_reports_an_error_record_not_a_crash(
    endpoint: FakeEndpoint, sample_docs: Path, cli: Any, tmp_path: Path
) -> None:
    errors = tmp_path / "errors.jsonl"
    res = cli(
        "ingest",
        str(sample_docs / "pdf" / "vision-cross-page-table.pdf"),
        "--chunker",
        "vision",
        "--vision-backend",
        "openai",
        "--vision-endpoint",
        endpoint.url,
        "--vision-model",
        "m",
        "--errors",
        str(errors),
        "-j",
        "0",
    )
    assert res.returncode == 3, res.stderr
    assert res.stdout == ""
    rec = json.loads(errors.read_text().splitlines()[0])
    assert rec["stage"] == "chunk" and "HTTP 401" in rec["message"]
    assert "Traceback" not in res.stderr


def test_server_without_json_schema_support(tmp_path: Path) -> None:
    def no_schema(body: dict[str, Any], n: int) -> tuple[int, bytes, float]:
        if "response_format" in body:
            return 400, b'{"error": "response_format json_schema is not supported"}', 0.0
        return good_reply(body, n)

    with FakeEndpoint(no_schema) as ep:
        chunks = list(chunker(ep.url, retries=0).chunk(sample_doc(tmp_path)))
    assert [c.kind for c in chunks] == ["text", "table", "list"]
    # Asked once with the schema, then without it for this batch and the next.
    assert ["response_format" in r for r in ep.requests] == [True, False, False]
