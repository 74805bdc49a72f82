"""Late and naive embeddings against independent computations with the same model (CPU).

One module, one model load (module-scoped fixture): loading torch + the model takes seconds.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from chunkwise.chunkers.recursive import RecursiveChunker
from chunkwise.embedders import EmbedConfig, build_embedder, chunk_sizing
from chunkwise.embedders.naive import NaiveEmbedder

from chunkwise.chunking import ChunkerConfig
from chunkwise.errors import UsageError
from chunkwise.records import chunk_record
from chunkwise.types import Chunk, Document

pytestmark = pytest.mark.embed

MINILM = "all-MiniLM-L6-v2"

PARAGRAPHS = [
    "The Hamburg harbour authority published its annual report on Tuesday.",
    "It says container traffic fell by four percent, while cruise calls rose sharply.",
    "Its director blamed the Red Sea crisis for longer routes and fewer ships.",
    "Le café du port, très fréquenté, a fermé — 東京 and São Paulo shipping lines stayed.",
    "The city expects the new terminal at Steinwerder to reverse the trend by 2030.",
    "Environmental groups criticised the plan because dredging the Elbe harms the estuary.",
]


def make_doc(n_paragraphs: int, name: str = "doc") -> Document:
    text = "\n\n".join(PARAGRAPHS[i % len(PARAGRAPHS)] for i in range(n_paragraphs))
    return Document(source=name, doc_id=name, text=text)


def chunk_doc(doc: Document, max_tokens: int = 24) -> list[Chunk]:
    cfg = ChunkerConfig(max_tokens=max_tokens, tokenizer=MINILM)
    return list(RecursiveChunker(cfg).chunk(doc))


@pytest.fixture(scope="module")
def model():
    import torch

    from chunkwise.models import load_sentence_model

    # The test machines share a few cores: one thread avoids OpenMP oversubscription stalls.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_sentence_model(None, "cpu")
    torch.set_num_threads(threads)


def late(**kw) -> object:
    return build_embedder("late", EmbedConfig(device="cpu", **kw))


def one_pass_token_vectors(model, text: str, ids_slice: slice | None = None):
    """Reference: the model's contextual token vectors for one unpadded pass over ``text``
    (or over a slice of its tokens), special tokens stripped, plus the tokens' char offsets."""
    import torch

    tok = model.tokenizer
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False)
    ids = enc["input_ids"]
    offsets = np.asarray(enc["offset_mapping"])
    if ids_slice is not None:
        ids = ids[ids_slice]
    full = [tok.cls_token_id, *ids, tok.sep_token_id]
    with torch.inference_mode():
        out = model[0].auto_model(
            input_ids=torch.tensor([full]),
            attention_mask=torch.ones(1, len(full), dtype=torch.long),
        )
    return out.last_hidden_state[0, 1:-1].numpy().astype(np.float64), offsets


def pool(vectors: np.ndarray, offsets: np.ndarray, start: int, end: int) -> np.ndarray:
    inside = (offsets[:, 0] >= start) & (offsets[:, 0] < end)
    v = vectors[inside].mean(axis=0)
    return v / np.linalg.norm(v)


def test_single_window_equals_mean_pooling_of_one_pass(model) -> None:
    doc = make_doc(20)  # ~300 tokens: more than the default window, less than 512 positions
    chunks = chunk_doc(doc)
    emb = late(window=512)
    (out,) = emb.embed([doc], [chunks])
    vectors, offsets = one_pass_token_vectors(model, doc.text)
    assert 256 < len(vectors) <= 510
    for c in out:
        assert c.embedding_model == "sentence-transformers/all-MiniLM-L6-v2"
        got = np.asarray(c.embedding)
        np.testing.assert_allclose(got, pool(vectors, offsets, c.start, c.end), atol=2e-5)
        assert abs(np.linalg.norm(got) - 1) < 1e-5


def test_stitched_windows_equal_one_pass_per_window(model) -> None:
    doc = make_doc(10)
    chunks = chunk_doc(doc)
    window, overlap = 64, 16
    content = window - 2
    (out,) = late(window=window, overlap=overlap, batch_size=5).embed([doc], [chunks])
    ids = model.tokenizer(doc.text, add_special_tokens=False)["input_ids"]
    n = len(ids)
    starts = [*range(0, n - content, content - overlap), n - content]
    acc = np.zeros((n, 384))
    weight = np.zeros(n)
    offsets = None
    for s in starts:
        vec, offsets = one_pass_token_vectors(model, doc.text, slice(s, s + content))
        for p in range(len(vec)):
            w = min(p + 1, len(vec) - p)  # distance to the nearer window edge
            acc[s + p] += w * vec[p]
            weight[s + p] += w
    tokens = acc / weight[:, None]
    assert offsets is not None
    for c in out:
        np.testing.assert_allclose(
            np.asarray(c.embedding), pool(tokens, offsets, c.start, c.end), atol=2e-5
        )


def test_stitched_windows_stay_close_to_the_single_pass(model) -> None:
    doc = make_doc(15)
    chunks = chunk_doc(doc)
    (one,) = late(window=512).embed([doc], [chunks])
    (stitched,) = late(window=128, overlap=32).embed([doc], [chunks])
    (naive,) = NaiveEmbedder(EmbedConfig(device="cpu")).embed([doc], [chunks])
    cos = [float(np.dot(a.embedding, b.embedding)) for a, b in zip(one, stitched, strict=True)]
    base = [float(np.dot(a.embedding, b.embedding)) for a, b in zip(one, naive, strict=True)]
    # Windows of 128 see less context than one pass of ~400 tokens, so vectors drift, but every
    # chunk keeps far more of the one-pass (contextual) vector than embedding it alone does.
    assert np.mean(cos) > 0.85, cos
    assert all(c > b + 0.05 for c, b in zip(cos, base, strict=True)), (cos, base)


def test_batching_many_documents_matches_one_at_a_time(model) -> None:
    docs = [make_doc(n, f"d{n}") for n in (1, 5, 2, 7)]
    chunk_lists = [chunk_doc(d) for d in docs]
    together = late(window=48, overlap=12, batch_size=3).embed(docs, chunk_lists)
    one_by_one = late(window=48, overlap=12, batch_size=1)
    alone = [one_by_one.embed([d], [c])[0] for d, c in zip(docs, chunk_lists, strict=True)]
    for a_list, b_list in zip(together, alone, strict=True):
        assert [c.index for c in a_list] == [c.index for c in b_list]
        for a, b in zip(a_list, b_list, strict=True):
            np.testing.assert_allclose(a.embedding, b.embedding, atol=2e-5)
            assert a.text == b.text and a.start == b.start


def test_late_vectors_depend_on_the_document_naive_do_not(model) -> None:
    """The point of late chunking: the same chunk text in two documents gets two vectors."""
    shared = PARAGRAPHS[1]
    d1 = Document("a", "a", PARAGRAPHS[0] + "\n\n" + shared)
    d2 = Document("b", "b", "Bananas are rich in potassium.\n\n" + shared)
    c1, c2 = chunk_doc(d1, 20), chunk_doc(d2, 20)
    assert c1[-1].text == c2[-1].text == shared
    l1, l2 = late().embed([d1, d2], [c1, c2])
    n1, n2 = NaiveEmbedder(EmbedConfig(device="cpu")).embed([d1, d2], [c1, c2])
    assert n1[-1].embedding == n2[-1].embedding
    assert float(np.dot(l1[-1].embedding, l2[-1].embedding)) < 0.999


def test_naive_equals_sentence_transformers_encode(model) -> None:
    doc = make_doc(8)
    chunks = chunk_doc(doc)
    (out,) = NaiveEmbedder(EmbedConfig(device="cpu", batch_size=4)).embed([doc], [chunks])
    ref = model.encode([c.text for c in chunks], normalize_embeddings=True)
    np.testing.assert_allclose(np.array([c.embedding for c in out]), ref, atol=1e-6)


def test_naive_context_prefix_is_encoded_with_the_chunk(model) -> None:
    import dataclasses

    doc = make_doc(3)
    chunks = [dataclasses.replace(c, headings=("Port report", "Traffic")) for c in chunk_doc(doc)]
    emb = NaiveEmbedder(EmbedConfig(device="cpu", context=True))
    (out,) = emb.embed([doc], [chunks])
    ref = model.encode(
        ["Port report > Traffic\n\n" + c.text for c in chunks], normalize_embeddings=True
    )
    np.testing.assert_allclose(np.array([c.embedding for c in out]), ref, atol=1e-6)
    # A context field wins over headings.
    ctx = dataclasses.replace(chunks[0], metadata={"context": "From the Hamburg port report."})
    assert emb.text_for(ctx) == "From the Hamburg port report.\n\n" + ctx.text


def test_naive_context_never_pushes_the_chunk_out(model) -> None:
    import dataclasses

    emb = NaiveEmbedder(EmbedConfig(device="cpu", context=True)).load()
    doc = make_doc(30)
    (big,) = chunk_doc(doc, max_tokens=240)[:1]
    long_heading = "word " * 200
    c = dataclasses.replace(big, headings=(long_heading.strip(), "Short"))
    text = emb.text_for(c)
    assert text.endswith(big.text)
    assert emb.backend.count(text) <= emb.backend.max_content_tokens
    assert text.startswith("Short\n\n") or text == big.text


def test_whitespace_only_chunk_still_gets_a_vector(model) -> None:
    doc = Document("w", "w", "Hello there.\n\n\n\nGeneral Kenobi.")
    chunks = [
        Chunk("w", 0, 0, 12, doc.text[0:12], 3, MINILM, "test"),
        Chunk("w", 1, 12, 16, doc.text[12:16], 0, MINILM, "test"),
        Chunk("w", 2, 16, 31, doc.text[16:31], 4, MINILM, "test"),
    ]
    (out,) = late().embed([doc], [chunks])
    for c in out:
        assert c.embedding is not None and abs(np.linalg.norm(c.embedding) - 1) < 1e-5


def test_documents_without_chunks_pass_through(model) -> None:
    doc = make_doc(2)
    assert late().embed([doc, make_doc(1, "x")], [[], chunk_doc(make_doc(1, "x"))])[0] == []


def test_window_options_are_checked_against_the_model(model) -> None:
    with pytest.raises(UsageError, match="512 positions"):
        late(window=1024)
    with pytest.raises(UsageError, match="--late-overlap"):
        late(window=64, overlap=62)
    with pytest.raises(UsageError, match="batch-size"):
        EmbedConfig(batch_size=0)


def test_chunk_sizing_caps_naive_and_leaves_late_alone(model, caplog) -> None:
    naive = build_embedder("naive", EmbedConfig(device="cpu"))
    with caplog.at_level(logging.WARNING, logger="chunkwise"):
        assert chunk_sizing(naive, None, None, 512) == (MINILM, 254)
    assert "capped at 254" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="chunkwise"):
        # The default cap (no --max-tokens given) is lowered silently: nothing for the user to fix.
        assert chunk_sizing(naive, None, None, 512, explicit=False) == (MINILM, 254)
    assert "capped" not in caplog.text
    assert chunk_sizing(naive, None, None, 200) == (MINILM, 200)
    assert chunk_sizing(late(), None, None, 512) == (MINILM, 512)
    assert chunk_sizing(late(), None, "cl100k_base", 512) == ("cl100k_base", 512)


def test_vectors_round_trip_through_jsonl_and_parquet(model, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from chunkwise.writers.jsonl import JsonlWriter
    from chunkwise.writers.parquet import ParquetWriter

    doc = make_doc(6)
    (out,) = late().embed([doc], [chunk_doc(doc)])
    expected = np.array([c.embedding for c in out], dtype=np.float32)
    for writer_cls, path in ((JsonlWriter, "c.jsonl"), (ParquetWriter, "c.parquet")):
        w = writer_cls(str(tmp_path / path))
        w.write(chunk_record(c, doc) for c in out)
        w.close()
    rows = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    np.testing.assert_array_equal(np.array([r["embedding"] for r in rows], np.float32), expected)
    table = pq.read_table(tmp_path / "c.parquet")
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 384)
    got = np.array(table.column("embedding").to_pylist(), dtype=np.float32)
    np.testing.assert_array_equal(got, expected)
    assert set(table.column("embedding_model").to_pylist()) == {
        "sentence-transformers/all-MiniLM-L6-v2"
    }


def test_query_stream_matches_encode_and_reports_bad_lines(model) -> None:
    import io

    from chunkwise.embedders.backend import SentenceTransformerBackend
    from chunkwise.embedders.queries import embed_stream

    backend = SentenceTransformerBackend(None, "cpu")
    errors: list = []
    out = io.StringIO()
    lines = ['{"text": "where is the harbour?", "id": 7}\n', "\n", "not json\n", '{"q": 1}\n']
    summary = embed_stream(backend, lines, out, on_error=errors.append)
    recs = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r["id"] for r in recs] == [7]
    ref = model.encode(["where is the harbour?"], normalize_embeddings=True)[0]
    np.testing.assert_allclose(recs[0]["embedding"], ref, atol=1e-6)
    assert [e.source for e in errors] == ["<stdin>:3", "<stdin>:4"]
    assert summary.exit_code == 1
    out = io.StringIO()
    summary = embed_stream(
        backend, ["first query\n", '{"text": "x"}\n'], out, on_error=errors.append
    )
    recs = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r["text"] for r in recs] == ["first query", '{"text": "x"}']
    assert summary.exit_code == 0


def test_merge_pools_merged_chunks_exactly_as_late_would(model) -> None:
    doc = make_doc(12)
    pieces = chunk_doc(doc, max_tokens=8)
    (merged,) = late(merge=40).embed([doc], [pieces])
    assert 1 < len(merged) < len(pieces)
    assert [c.index for c in merged] == list(range(len(merged)))
    assert merged[0].start == pieces[0].start and merged[-1].end == pieces[-1].end
    for c in merged:
        assert c.text == doc.text[c.start : c.end]
        assert c.n_tokens <= 40 or c.text in {p.text for p in pieces}
    # The merged chunks' vectors are what late chunking gives those same chunks directly.
    plain = [dataclasses.replace(c, embedding=None) for c in merged]
    (direct,) = late().embed([doc], [plain])
    for m, d in zip(merged, direct, strict=True):
        np.testing.assert_allclose(m.embedding, d.embedding, atol=2e-5)
