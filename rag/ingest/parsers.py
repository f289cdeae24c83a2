"""Parse uploaded files and API records into plain-text documents.

One entry point per input kind: :func:`parse_file` for bytes with a file name (the
suffix picks the parser) and :func:`parse_records` for the JSON API body. Every problem
with the input is an :class:`~rag.errors.InvalidInputError` (or one of its 413/415
subclasses) whose message starts with the file name and says what is wrong.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rag.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaError

__all__ = [
    "ParsedDocument",
    "SUPPORTED_SUFFIXES",
    "DEFAULT_MAX_BYTES",
    "parse_file",
    "parse_records",
]

SUPPORTED_SUFFIXES = tuple(".txt .md .markdown .html .htm .pdf .docx .json .jsonl".split())
DEFAULT_MAX_BYTES = 50 * 1024 * 1024

_SNIFF_CHARS = 65536
_CONTROL = re.compile(r"[\x01-\x08\x0e-\x1f\x7f]")
_NAME_JUNK = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_MD_HEADING = re.compile(r"^[ ]{0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_HTML_DROP = tuple(
    "script style noscript nav header footer aside form template iframe svg head".split()
)
_HTML_BLOCKS = tuple(
    "p div section article main h1 h2 h3 h4 h5 h6 li ul ol dl dt dd tr table blockquote pre "
    "figure figcaption hr address details summary caption".split()
)
# pypdf raises its PyPdfError family on malformed files, but fuzzing truncated and
# corrupted files showed these builtins leaking from its parser too.
_PDF_PARSER_ERRORS = (
    AttributeError,
    TypeError,
    KeyError,
    ValueError,
    IndexError,
    RecursionError,
    zlib.error,
)
# Raised by zipfile/python-docx on a non-zip, truncated or incomplete .docx package.
_DOCX_PACKAGE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    ValueError,
    NotImplementedError,
)
_PARA, _LINE = "\x00", "\x01"  # sentinels: decoded text never holds them (rejected as binary)


@dataclass(frozen=True)
class ParsedDocument:
    """One document's text and provenance, ready for chunking.

    Attributes:
        text: The document's text, stripped of markup.
        title: From the file (html ``<title>``, md first heading, docx/pdf metadata,
            json ``title``) or else the file stem.
        source: The file name it came from.
        metadata: Extra facts, e.g. ``{"pages": [[start, end], ...]}`` for a PDF (char
            offsets of each page in ``text``) or a JSON record's metadata.
        external_id: A JSON/JSONL record's ``id`` as a string, else None.
    """

    text: str
    title: str
    source: str
    metadata: dict[str, Any]
    external_id: str | None = None


def safe_filename(name: str, *, max_chars: int = 255) -> str:
    """An uploaded file's name as stored: a relative path without `..`, `.` or empty
    parts (so no absolute or escaping path), without control characters, at most
    `max_chars` (its end kept, with the suffix); "upload" when nothing is left."""
    parts = (_NAME_JUNK.sub("", p).strip() for p in name.replace("\\", "/").split("/"))
    safe = "/".join(p for p in parts if p not in ("", ".", ".."))
    return (safe[-max_chars:] if len(safe) > max_chars else safe) or "upload"


def parse_file(
    filename: str, data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[ParsedDocument]:
    """Parse one uploaded file into documents (several for .json/.jsonl).

    Args:
        filename: The file's name; its suffix (case-insensitive) picks the parser.
        data: The file's bytes.
        max_bytes: Largest accepted size in bytes.

    Returns:
        The documents in file order.

    Raises:
        PayloadTooLargeError: If ``data`` is over ``max_bytes``.
        UnsupportedMediaError: If the suffix is not in :data:`SUPPORTED_SUFFIXES`.
        InvalidInputError: If the file is empty, binary, not valid UTF-8, malformed,
            or has no extractable text.
    """
    filename = safe_filename(filename)
    if len(data) > max_bytes:
        raise PayloadTooLargeError(
            f"{filename}: file is {len(data)} bytes, over the limit of {max_bytes} bytes"
        )
    base = filename.rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    suffix = f".{ext.lower()}" if dot and stem else ""
    stem = stem if dot and stem else base
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"'{suffix}'" if suffix else "(no file extension)"
        raise UnsupportedMediaError(
            f"{filename}: unsupported file type {kind} (supported: {', '.join(SUPPORTED_SUFFIXES)})"
        )
    if not data:
        raise InvalidInputError(f"{filename}: the file is empty")
    if suffix == ".pdf":
        return [_parse_pdf(filename, stem, data)]
    if suffix == ".docx":
        return [_parse_docx(filename, stem, data)]
    text = _decode(filename, data)
    if suffix == ".json":
        return parse_records(_json_records(filename, text), source=filename)
    if suffix == ".jsonl":
        return _documents(_jsonl_records(filename, text), source=filename)
    if suffix in (".html", ".htm"):
        return [_parse_html(filename, stem, text)]
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    title = stem
    if suffix in (".md", ".markdown"):
        heading = _MD_HEADING.search(text)
        title = heading.group(1).strip() if heading else stem
    return [ParsedDocument(text=text, title=title, source=filename, metadata={})]


def _decode(name: str, data: bytes) -> str:
    """Strictly decode a text file (UTF-8, or UTF-16 with a BOM) and reject binary."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, skip = "utf-16", 0  # the codec reads and drops the BOM
    else:
        encoding, skip = "utf-8", len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
        if b"\x00" in data[:_SNIFF_CHARS]:
            raise InvalidInputError(f"{name}: binary content in a text file (NUL bytes)")
    try:
        text = data[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{name}: not valid {encoding.upper()} at byte {exc.start + skip} ({exc.reason})"
        ) from None
    sample = text[:_SNIFF_CHARS]
    if "\x00" in text or len(_CONTROL.findall(sample)) > max(8, len(sample) // 10):
        raise InvalidInputError(f"{name}: binary content in a text file (control characters)")
    if not text.strip():
        raise InvalidInputError(f"{name}: the file is empty (only whitespace)")
    return text


def _parse_html(name: str, stem: str, markup: str) -> ParsedDocument:
    """Extract the main text of an HTML page, keeping paragraph breaks."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    title = _squash(soup.title.get_text()) if soup.title else ""
    if not title:
        h1 = soup.find("h1")
        title = (_squash(h1.get_text()) if h1 else "") or stem
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    roots = soup.find_all("main") or soup.find_all("article") or [soup.body or soup]
    ids = {id(r) for r in roots}
    roots = [r for r in roots if not any(id(p) in ids for p in r.parents)]  # outermost only
    for pre in soup.find_all("pre"):
        for string in pre.find_all(string=True):
            string.replace_with(string.replace("\n", _LINE))
    for br in soup.find_all("br"):
        br.replace_with(_LINE)
    for block in soup.find_all(_HTML_BLOCKS):
        block.insert_before(_PARA)
        block.insert_after(_PARA)
    paragraphs: list[str] = []
    for root in roots:
        for para in root.get_text().split(_PARA):
            lines = (_squash(line) for line in para.split(_LINE))
            joined = "\n".join(line for line in lines if line)
            if joined:
                paragraphs.append(joined)
    text = "\n\n".join(paragraphs)
    if not text:
        raise InvalidInputError(f"{name}: no text found in the HTML page")
    return ParsedDocument(text=text, title=title, source=name, metadata={})


def _squash(text: str) -> str:
    """Collapse every whitespace run to one space and strip the ends."""
    return " ".join(text.split())


def _parse_pdf(name: str, stem: str, data: bytes) -> ParsedDocument:
    """Extract the text of each PDF page, recording each page's character span."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            _decrypt(name, reader)
        page_texts = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata
        title = str(info.title or "").strip() if info is not None else ""
    except InvalidInputError:
        raise
    except (PyPdfError, *_PDF_PARSER_ERRORS) as exc:
        raise InvalidInputError(f"{name}: malformed PDF ({type(exc).__name__}: {exc})") from exc
    pages: list[list[int]] = []  # [start, end) of each page's text; empty pages too
    pos = 0
    for page_text in page_texts:
        start = pos + 2 if page_text and pos else pos  # "\n\n" goes between pages
        pos = start + len(page_text)
        pages.append([start, pos])
    text = "\n\n".join(page_text for page_text in page_texts if page_text)
    if not text:
        raise InvalidInputError(f"{name}: the PDF has no extractable text (scanned or image-only?)")
    return ParsedDocument(text=text, title=title or stem, source=name, metadata={"pages": pages})


def _decrypt(name: str, reader: Any) -> None:
    """Open a PDF encrypted with an empty user password, or explain why not."""
    from pypdf.errors import PyPdfError

    try:
        opened = reader.decrypt("")
    except PyPdfError as exc:
        raise InvalidInputError(f"{name}: encrypted PDF (cannot decrypt: {exc})") from exc
    if not opened:
        raise InvalidInputError(f"{name}: encrypted PDF (a password is required)")


def _parse_docx(name: str, stem: str, data: bytes) -> ParsedDocument:
    """Extract paragraphs and table cells of a .docx in document order."""
    import docx
    from docx.opc.exceptions import OpcError
    from docx.table import Table
    from lxml.etree import LxmlError

    try:
        document = docx.Document(io.BytesIO(data))
        parts: list[str] = []
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                parts.extend(_table_cells(item))
            else:
                parts.append(item.text.strip())
        title = (document.core_properties.title or "").strip()
    except (*_DOCX_PACKAGE_ERRORS, OpcError, LxmlError) as exc:
        raise InvalidInputError(
            f"{name}: corrupt or invalid .docx file ({type(exc).__name__}: {exc})"
        ) from exc
    text = "\n\n".join(part for part in parts if part)
    if not text:
        raise InvalidInputError(f"{name}: the document has no text")
    return ParsedDocument(text=text, title=title or stem, source=name, metadata={})


def _table_cells(table: Any) -> list[str]:
    """Texts of a table's cells row by row, once per merged cell."""
    cells: list[str] = []
    for row in table.rows:
        previous = None
        for cell in row.cells:
            if cell._tc is not previous:  # a merged cell repeats across its grid columns
                cells.append(cell.text.strip())
            previous = cell._tc
    return cells


def _json_records(name: str, text: str) -> list[Any]:
    """Load a .json file: a record list, ``{"documents": [...]}`` or one record."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if isinstance(value, dict) and isinstance(value.get("documents"), list):
        return value["documents"]
    if isinstance(value, dict) and "text" in value:
        return [value]
    if isinstance(value, list):
        return value
    raise InvalidInputError(
        f"{name}: expected a list of records, an object with a 'documents' list, "
        f"or one record with 'text'; got {type(value).__name__}"
    )


def _jsonl_records(name: str, text: str) -> list[tuple[str, Any]]:
    """Load a .jsonl file: one JSON record per non-empty line, labelled by line number."""
    records: list[tuple[str, Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append((f"line {number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                f"{name}: invalid JSON on line {number}, column {exc.colno}: {exc.msg}"
            ) from None
    return records


def parse_records(records: list[Any], *, source: str) -> list[ParsedDocument]:
    """Turn JSON records ``{"text", "title"?, "id"?, "metadata"?, ...}`` into documents.

    Other scalar top-level keys are folded into the metadata (explicit ``metadata``
    keys win). Record texts are kept exactly as given.

    Args:
        records: The records, e.g. the ``documents`` list of an API body.
        source: Where they came from (a file name or e.g. ``"api"``); used as the
            default title (without its suffix) and in error messages.

    Returns:
        One document per record, in order.

    Raises:
        InvalidInputError: If there are no records, or a record is not an object, lacks
            a non-empty string ``text``, or has a badly typed ``title``/``id``/``metadata``.
    """
    if not isinstance(records, list):
        raise InvalidInputError(
            f"{source}: expected a list of records, got {type(records).__name__}"
        )
    return _documents(((f"record {i}", r) for i, r in enumerate(records)), source=source)


def _documents(labelled: Iterable[tuple[str, Any]], *, source: str) -> list[ParsedDocument]:
    """Build documents from ``(label, record)`` pairs; labels name records in errors."""
    base = source.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rpartition(".")[0] or base
    docs = [
        _record_document(record, where=f"{source}: {label}", source=source, stem=stem)
        for label, record in labelled
    ]
    if not docs:
        raise InvalidInputError(f"{source}: no records")
    return docs


def _record_document(record: Any, *, where: str, source: str, stem: str) -> ParsedDocument:
    """Validate one JSON record and build its document."""
    if not isinstance(record, dict):
        raise InvalidInputError(f"{where}: expected a JSON object, got {type(record).__name__}")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        problem = "missing 'text'" if text is None else "'text' must be a non-empty string"
        raise InvalidInputError(f"{where}: {problem}")
    title = record.get("title")
    if title is not None and not isinstance(title, str):
        raise InvalidInputError(f"{where}: 'title' must be a string, got {type(title).__name__}")
    ident = record.get("id")
    if isinstance(ident, (dict, list)):
        raise InvalidInputError(
            f"{where}: 'id' must be a string or number, got {type(ident).__name__}"
        )
    extra = record.get("metadata")
    if extra is not None and not isinstance(extra, dict):
        raise InvalidInputError(
            f"{where}: 'metadata' must be an object, got {type(extra).__name__}"
        )
    metadata = {
        key: value
        for key, value in record.items()
        if key not in ("text", "title", "id", "metadata")
        and (value is None or isinstance(value, (str, int, float, bool)))
    }
    metadata.update(extra or {})
    return ParsedDocument(
        text=text,
        title=title.strip() if title and title.strip() else stem,
        source=source,
        metadata=metadata,
        external_id=None if ident is None else str(ident),
    )
