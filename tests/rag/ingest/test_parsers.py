"""Tests for rag.ingest.parsers: every file type and every bad-input case."""

from __future__ import annotations

import codecs
import io
import json
import time
import zipfile
from pathlib import Path

import pytest

from rag.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaError
from rag.ingest import SUPPORTED_SUFFIXES, ParsedDocument, parse_file, parse_records

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parents[2] / "data" / "ingest"


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


def parse_one(filename: str, data: bytes) -> ParsedDocument:
    docs = parse_file(filename, data)
    assert len(docs) == 1
    return docs[0]


# --- plain text and common checks ------------------------------------------------------


def test_txt_keeps_text_and_uses_stem_as_title() -> None:
    doc = parse_one("notes/Meeting Notes.TXT", b"  Hello world.\r\nSecond line.\n")
    assert doc == ParsedDocument(
        text="Hello world.\nSecond line.",
        title="Meeting Notes",
        source="notes/Meeting Notes.TXT",
        metadata={},
        external_id=None,
    )


@pytest.mark.parametrize(
    "text",
    [
        "emoji 😀👍🏽 and flags 🇫🇷",
        "RTL: שלום עולם, مرحبا",
        "combining: e\u0301 a\u0308 ñ",
        "zwj: 👩‍💻",
    ],
)
def test_unicode_is_preserved(text: str) -> None:
    assert parse_one("u.txt", text.encode()).text == text


def test_utf8_bom_is_stripped() -> None:
    assert parse_one("bom.txt", codecs.BOM_UTF8 + "café".encode()).text == "café"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_decoded(encoding: str) -> None:
    bom = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
    doc = parse_one("wide.md", bom + "# Título\n\nTexto 😀".encode(encoding))
    assert doc.text == "# Título\n\nTexto 😀" and doc.title == "Título"


def test_empty_file_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match=r"^empty\.txt: the file is empty$"):
        parse_file("empty.txt", b"")


@pytest.mark.parametrize(
    "name", ["blank.txt", "blank.md", "blank.html", "blank.json", "blank.jsonl"]
)
def test_whitespace_only_file_is_rejected(name: str) -> None:
    with pytest.raises(InvalidInputError, match=rf"^{name}: the file is empty \(only whitespace\)"):
        parse_file(name, b" \n\t\r\n ")


def test_binary_content_with_txt_suffix_is_rejected() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    with pytest.raises(InvalidInputError, match=r"^x\.txt: binary content in a text file"):
        parse_file("x.txt", png)


def test_mostly_control_characters_are_binary() -> None:
    with pytest.raises(InvalidInputError, match="binary content"):
        parse_file("ctl.txt", bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 65]) * 10)


def test_invalid_utf8_names_the_byte_offset() -> None:
    data = b"a" * 1234 + b"\xff\xfe tail"
    with pytest.raises(InvalidInputError, match=r"^notes\.txt: not valid UTF-8 at byte 1234 "):
        parse_file("notes.txt", data)


def test_invalid_utf8_offset_counts_the_bom() -> None:
    with pytest.raises(InvalidInputError, match="at byte 5 "):
        parse_file("b.txt", codecs.BOM_UTF8 + b"ab\xc3(")


def test_invalid_utf16_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match=r"not valid UTF-16 at byte"):
        parse_file("w.txt", codecs.BOM_UTF16_LE + "ok".encode("utf-16-le") + b"\x00\xd8")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a.exe", "'.exe'"),
        ("Makefile", "(no file extension)"),
        ("archive.tar.gz", "'.gz'"),
        (".bashrc", "(no file extension)"),
    ],
)
def test_unsupported_suffix(name: str, shown: str) -> None:
    with pytest.raises(UnsupportedMediaError) as info:
        parse_file(name, b"data")
    message = str(info.value)
    assert message.startswith(f"{name}: unsupported file type {shown} (supported: .txt, .md,")
    assert all(suffix in message for suffix in SUPPORTED_SUFFIXES)


@pytest.mark.parametrize("name", [f"UPPER{s.upper()}" for s in (".txt", ".md", ".html", ".json")])
def test_suffix_is_case_insensitive(name: str) -> None:
    data = b'{"text": "hi"}' if name.endswith("JSON") else b"hi"
    assert parse_file(name, data)[0].text == "hi"


def test_over_size_is_rejected_before_anything_else() -> None:
    with pytest.raises(
        PayloadTooLargeError, match=r"^big\.exe: file is 11 bytes, over the limit of 10"
    ):
        parse_file("big.exe", b"x" * 11, max_bytes=10)
    assert parse_file("ok.txt", b"x" * 10, max_bytes=10)[0].text == "x" * 10


# --- markdown and html -----------------------------------------------------------------


def test_markdown_title_is_the_first_level_one_heading() -> None:
    doc = parse_one("sample.md", fixture("sample.md"))
    assert doc.title == "Markdown Title"
    assert doc.text == "Intro line.\n\n# Markdown Title\n\nSome *emphasis* here."


def test_markdown_without_heading_uses_stem() -> None:
    assert parse_one("readme.markdown", b"## Sub only\n\ntext").title == "readme"


def test_html_main_text_title_and_paragraphs() -> None:
    doc = parse_one("sample.html", fixture("sample.html"))
    assert doc.title == "Sample Page"
    assert doc.text == (
        "Main heading\n\nFirst paragraph with a line wrap.\n\n"
        "Second paragraph\nafter a break.\n\nOne\n\nTwo"
    )
    for dropped in (
        "var x",
        "color:red",
        "Site header",
        "Home",
        "Subscribe",
        "Related",
        "Copyright",
        "a comment",
    ):
        assert dropped not in doc.text


def test_html_without_main_uses_body_and_h1_title() -> None:
    html = (
        b"<html><body><nav>menu</nav><h1>Big  Title</h1>"
        b"<div>Body text<pre>a\n  b</pre></div></body>"
    )
    doc = parse_one("page.htm", html)
    assert doc.title == "Big Title"
    assert doc.text == "Big Title\n\nBody text\n\na\nb"


def test_html_prefers_articles() -> None:
    html = (
        b"<body><div>Noise</div><article><p>One</p></article><article><p>Two</p></article></body>"
    )
    assert parse_one("a.html", html).text == "One\n\nTwo"


def test_html_without_text_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match=r"^s\.html: no text found"):
        parse_file("s.html", b"<html><script>x()</script></html>")


# --- pdf -------------------------------------------------------------------------------


def test_pdf_text_pages_and_title() -> None:
    doc = parse_one("sample.pdf", fixture("sample.pdf"))
    assert doc.title == "RAG Primer"
    pages = doc.metadata["pages"]
    assert len(pages) == 2
    assert "Retrieval augmented generation" in doc.text[pages[0][0] : pages[0][1]]
    assert doc.text[pages[1][0] : pages[1][1]] == "The second page talks about memory blocks."
    assert doc.text[pages[0][1] : pages[1][0]] == "\n\n"


@pytest.mark.parametrize("name", ["truncated.pdf", "garbage.pdf"])
def test_malformed_pdf_is_rejected(name: str) -> None:
    with pytest.raises(InvalidInputError, match=rf"^{name}: malformed PDF \("):
        parse_file(name, fixture(name))


@pytest.mark.parametrize("cut", [9, 100, 400, 700, 1000])
def test_truncated_pdf_never_leaks_other_errors(cut: int) -> None:
    try:
        parse_file("t.pdf", fixture("sample.pdf")[:cut])
    except InvalidInputError as exc:
        assert str(exc).startswith("t.pdf: ")


def test_pdf_without_text_is_rejected() -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=72, height=72)
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(InvalidInputError, match=r"^scan\.pdf: the PDF has no extractable text"):
        parse_file("scan.pdf", buf.getvalue())


def test_encrypted_pdf_is_rejected() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(fixture("sample.pdf"))))
    writer.encrypt("secret", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(InvalidInputError, match=r"^locked\.pdf: encrypted PDF"):
        parse_file("locked.pdf", buf.getvalue())


# --- docx ------------------------------------------------------------------------------


def test_docx_paragraphs_tables_and_title() -> None:
    doc = parse_one("sample.docx", fixture("sample.docx"))
    assert doc.title == "Quarterly Notes"
    assert doc.text == (
        "Overview\n\nThe index is rebuilt nightly.\n\nMetric\n\nValue\n\nRecall@5\n\n0.82\n\n"
        "Closing remark \u2014 caf\u00e9 \U0001f600."
    )


def _rezip(drop: str = "", replace: tuple[str, bytes] | None = None) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(fixture("sample.docx")))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for name in src.namelist():
            if name == drop:
                continue
            out.writestr(name, replace[1] if replace and replace[0] == name else src.read(name))
    return buf.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"this is not a zip file",
        fixture("sample.docx")[:2000],
        _rezip(drop="word/document.xml"),
        _rezip(replace=("word/document.xml", b"<w:document><broken")),
        _rezip(drop="[Content_Types].xml"),
    ],
    ids=["not-zip", "truncated", "no-document", "bad-xml", "no-content-types"],
)
def test_corrupt_docx_is_rejected(data: bytes) -> None:
    with pytest.raises(InvalidInputError, match=r"^bad\.docx: corrupt or invalid \.docx file \("):
        parse_file("bad.docx", data)


# --- json and jsonl --------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        [{"text": "A."}, {"text": "B."}],
        {"documents": [{"text": "A."}, {"text": "B."}]},
    ],
)
def test_json_record_list_shapes(payload: object) -> None:
    docs = parse_file("set.json", json.dumps(payload).encode())
    assert [(d.text, d.title, d.source) for d in docs] == [
        ("A.", "set", "set.json"),
        ("B.", "set", "set.json"),
    ]


def test_json_single_record_with_fields() -> None:
    record = {
        "id": 7,
        "title": " T ",
        "text": "  Body.  ",
        "metadata": {"a": 1, "lang": "fr"},
        "lang": "en",
        "score": 0.5,
        "ok": True,
        "none": None,
        "tags": ["x"],
    }
    (doc,) = parse_file("one.json", json.dumps(record).encode())
    assert doc.external_id == "7" and doc.title == "T" and doc.text == "  Body.  "
    assert doc.metadata == {"a": 1, "lang": "fr", "score": 0.5, "ok": True, "none": None}


def test_bad_json_names_line_and_column() -> None:
    with pytest.raises(InvalidInputError, match=r"^bad\.json: invalid JSON at line 3, column 5: "):
        parse_file("bad.json", b'[\n  {"text": "a"},\n    oops\n]')


def test_json_of_the_wrong_shape_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match=r"^n\.json: expected a list of records.*got int"):
        parse_file("n.json", b"42")


def test_jsonl_records_and_blank_lines() -> None:
    docs = parse_file("sample.jsonl", fixture("sample.jsonl"))
    assert [(d.text, d.title, d.external_id, d.metadata) for d in docs] == [
        ("First record.", "One", "1", {"lang": "en"}),
        ("Second record.", "sample", "b", {"k": [1, 2]}),
    ]


def test_jsonl_bad_line_is_named() -> None:
    data = b'{"text": "a"}\n\n{"text": "b"}\n{"text": oops}\n'
    with pytest.raises(InvalidInputError, match=r"^x\.jsonl: invalid JSON on line 4, column 10: "):
        parse_file("x.jsonl", data)


def test_jsonl_record_errors_name_the_line() -> None:
    with pytest.raises(InvalidInputError, match=r"^x\.jsonl: line 2: missing 'text'$"):
        parse_file("x.jsonl", b'{"text": "a"}\n{"title": "no text"}\n')


def test_large_jsonl_is_parsed_in_linear_time() -> None:
    line = json.dumps({"id": 0, "text": "Passage text " * 20}).encode() + b"\n"
    data = line * 20_000  # ~5.6 MB
    started = time.perf_counter()
    docs = parse_file("big.jsonl", data)
    assert len(docs) == 20_000
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"title": "x"}], "api: record 0: missing 'text'"),
        ([{"text": "a"}, {"text": "   "}], "api: record 1: 'text' must be a non-empty string"),
        ([{"text": 5}], "api: record 0: 'text' must be a non-empty string"),
        ([{"text": "a", "title": 3}], "api: record 0: 'title' must be a string, got int"),
        (
            [{"text": "a", "id": {"x": 1}}],
            "api: record 0: 'id' must be a string or number, got dict",
        ),
        ([{"text": "a", "metadata": [1]}], "api: record 0: 'metadata' must be an object, got list"),
        (["just text"], "api: record 0: expected a JSON object, got str"),
        ([], "api: no records"),
        ({"text": "a"}, "api: expected a list of records, got dict"),
    ],
)
def test_parse_records_rejects_bad_records(records: object, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_records(records, source="api")  # type: ignore[arg-type]
    assert str(info.value) == message


def test_parse_records_keeps_text_exactly_and_stringifies_ids() -> None:
    docs = parse_records(
        [{"text": " Ünïcode 😀 \n", "id": 3.5}, {"text": "b", "id": "x"}], source="api"
    )
    assert docs[0] == ParsedDocument(
        text=" Ünïcode 😀 \n", title="api", source="api", metadata={}, external_id="3.5"
    )
    assert docs[1].external_id == "x"


def test_empty_json_list_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match=r"^e\.json: no records$"):
        parse_file("e.json", b"[]")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../etc/passwd.txt", "etc/passwd.txt"),
        ("..\\..\\windows\\win.ini.txt", "windows/win.ini.txt"),
        ("/abs/./path/../notes.md", "abs/path/notes.md"),
        ("nul\x00and\x1fcontrol.txt", "nulandcontrol.txt"),
        ("..", "upload"),
        ("../", "upload"),
        ("x" * 300 + ".txt", "x" * 251 + ".txt"),
    ],
)
def test_uploaded_file_names_are_reduced_to_a_safe_base_name(name, stored) -> None:
    from rag.ingest.parsers import safe_filename

    assert safe_filename(name) == stored
    if stored.endswith(".txt"):
        assert parse_file(name, b"Some plain text.")[0].source == stored
