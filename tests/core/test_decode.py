from __future__ import annotations

import codecs
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chunkwise.errors import ParseError
from chunkwise.parsing import decode_text, paragraph_elements


def test_utf8_and_boms() -> None:
    assert decode_text("héllo".encode()) == ("héllo", "utf-8")
    assert decode_text(codecs.BOM_UTF8 + "héllo".encode())[0] == "héllo"
    assert decode_text(codecs.BOM_UTF16_LE + "héllo".encode("utf-16-le")) == ("héllo", "utf-16-le")
    assert decode_text(codecs.BOM_UTF16_BE + "héllo".encode("utf-16-be"))[0] == "héllo"


def test_utf16_without_bom_is_detected() -> None:
    text = "Plain ASCII text stored as UTF-16.\n" * 3
    assert decode_text(text.encode("utf-16-le")) == (text, "utf-16-le")


def test_legacy_8bit_encoding_is_detected() -> None:
    text = "Le comité s'est réuni à Genève ; coût estimé : 1 250 €.\n" * 4
    decoded, enc = decode_text(text.encode("cp1252"))
    assert decoded == text
    assert enc.replace("_", "").lower() in {"cp1252", "windows1252"}


def test_crlf_is_kept_verbatim() -> None:
    assert decode_text(b"a\r\nb\r\n")[0] == "a\r\nb\r\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        (bytes(range(1, 9)) * 40, "binary"),
        ("Résumé — ok".encode() + b"\xff\xfe" + b" more text", "invalid UTF-8 at byte"),
    ],
)
def test_bad_bytes_give_one_line_errors(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        decode_text(data)
    assert "\n" not in str(info.value)


def test_paragraph_elements_are_trimmed_and_exact() -> None:
    text = "  First para\nstill first.\n\n\n Second.  \r\n\r\nThird"
    paras = paragraph_elements(text)
    assert [text[p.start : p.end] for p in paras] == [
        "First para\nstill first.",
        "Second.",
        "Third",
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab .\n\r\t\u00a0\u2029\x0c"), max_size=80), st.data())
def test_paragraph_elements_are_the_trimmed_pieces_between_blank_lines(
    text: str, data: st.DataObject
) -> None:
    """Whatever the whitespace at the edges (Unicode spaces the separator leaves behind too), the
    paragraphs are the pieces between blank-line separators, trimmed, blank ones dropped."""
    from chunkwise.parsing import _BLANK_SPLIT
    from chunkwise.spans import trimmed_pieces

    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    bounds = [start]
    for m in _BLANK_SPLIT.finditer(text, start, end):
        bounds.extend((m.start(), m.end()))
    bounds.append(end)
    want = trimmed_pieces(text, bounds)
    # trimmed_pieces also trims the separators themselves: they are all whitespace, so dropped.
    got = [(e.start, e.end) for e in paragraph_elements(text, start, end)]
    assert got == want
    assert all(e.kind == "paragraph" for e in paragraph_elements(text, start, end))


_CJK = {
    "big5": "這是一份關於港口經濟的報告。今年的貨運量比去年增加了百分之五，主要來自亞洲的出口。",
    "gbk": "这是一份关于港口经济的报告。今年的货运量比去年增加了百分之五，主要来自亚洲的出口。",
    "shift_jis": "これは港湾経済に関する報告書です。今年の貨物量は昨年より五パーセント増えた。",
    "euc_kr": "이것은 항구 경제에 관한 보고서입니다. 올해 화물량은 작년보다 5퍼센트 증가했습니다.",
}


@pytest.mark.parametrize("encoding", sorted(_CJK))
def test_legacy_cjk_encodings_are_decoded(encoding: str) -> None:
    """Their byte pairs can look like UTF-8 here and there; that must not read as damaged UTF-8."""
    text = "Harbour report\n\n" + _CJK[encoding] + "\n"
    decoded, enc = decode_text(text.encode(encoding))
    assert decoded == text
    assert text.encode(enc) == text.encode(encoding)


def test_utf8_bom_is_reported_so_offsets_can_be_reproduced() -> None:
    """The mark is not text: offsets index the bytes decoded with the reported codec."""
    data = codecs.BOM_UTF8 + b"Title\n\nBody"
    text, enc = decode_text(data)
    assert enc == "utf-8-sig"
    assert data.decode(enc) == text == "Title\n\nBody"


_PAST_THE_CHECKS = ("", "not UTF-8")


def _decode_reference(data: bytes) -> tuple[str, str]:
    """decode_text as it was before its checks were merged into one pass (BOMs, then NUL bytes,
    then other control bytes, each on its own)."""
    from chunkwise import parsing

    if not data:
        raise ParseError("empty file (0 bytes)")
    for bom, codec, enc in parsing._BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), enc
            except UnicodeDecodeError as exc:
                raise ParseError(
                    f"invalid {enc} text after its byte-order mark: {exc.reason} "
                    f"at byte {exc.start}"
                ) from exc
    sample = data[:65536]
    if b"\x00" in sample:
        enc16 = parsing._looks_utf16(sample)
        if enc16:
            try:
                return data.decode(enc16), enc16
            except UnicodeDecodeError:
                pass
        raise ParseError("binary file (contains NUL bytes), not text")
    controls = sum(sample.count(bytes([b])) for b in parsing._CONTROL)
    if controls > max(8, len(sample) // 100):
        raise ParseError(
            f"binary file ({controls} control bytes in the first {len(sample)}), not text"
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return _PAST_THE_CHECKS  # the guessing that follows is unchanged


_PIECES = [
    codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE,
    codecs.BOM_UTF32_BE, b"\x00", b"\x01", b"\x08", b"\x0b", b"\x1b", b"\x7f", b"\t", b"\r\n",
    b"\x0c", b"text ", "é".encode(), "€".encode("utf-16-le"), b"\xff", b"\xef", b"\xfe",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40), st.integers(0, 3))
def test_decode_checks_agree_with_the_reference(pieces: list[bytes], pad: int) -> None:
    """Byte-order marks, NULs and control bytes in any mix: the same text or the same error."""
    data = b"".join(pieces) + b"plain words " * pad
    try:
        want: object = _decode_reference(data)
    except ParseError as exc:
        want = str(exc)
    try:
        got: object = decode_text(data)
    except ParseError as exc:
        got = str(exc)
    if want == _PAST_THE_CHECKS:
        assert not (isinstance(got, str) and ("binary file (" in got or "byte-order" in got))
    else:
        assert got == want


def test_read_file_reads_to_the_end(tmp_path: Path) -> None:
    from chunkwise.parsing import read_file

    for size in (0, 1, 4096, (1 << 16) - 1, 1 << 16, (1 << 16) + 1, (1 << 20) + 3):
        path = tmp_path / f"f{size}"
        path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        assert read_file(path) == path.read_bytes()
        assert read_file(str(path)) == path.read_bytes()
    # A pipe cannot be read again from its start: over 64 KiB its pieces are joined.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    payload = bytes(range(256)) * 1000
    writer = threading.Thread(target=fifo.write_bytes, args=(payload,))
    writer.start()
    assert read_file(fifo) == payload
    writer.join()
    # A file whose size says 0 but that has content (procfs): read on to the end all the same.
    proc = Path("/proc/self/status")
    if proc.exists():
        assert read_file(proc).startswith(b"Name:")


@pytest.mark.parametrize("name", ["missing.txt", "folder"])
def test_unreadable_paths_give_the_read_error(tmp_path: Path, name: str) -> None:
    from chunkwise.parsers.text import TextParser

    (tmp_path / "folder").mkdir()
    reason = {"missing.txt": "No such file or directory", "folder": "Is a directory"}[name]
    with pytest.raises(ParseError, match=f"^cannot read file: {reason}$") as info:
        TextParser().parse(tmp_path / name)
    assert info.value.stage == "read"
