"""Generate the small ingest fixtures in this folder (run once; outputs are committed).

Usage: ``python tests/data/ingest/make_fixtures.py``. Everything here is written from
scratch: a two-page PDF in raw PDF syntax with a correct xref table, a truncated copy of
it, a .docx built with python-docx, and a few text files.
"""

from __future__ import annotations

import io
from pathlib import Path

HERE = Path(__file__).resolve().parent

PDF_PAGES = (
    ("Retrieval augmented generation grounds answers in documents.", "It cites sources."),
    ("The second page talks about memory blocks.",),
)


def _pdf_string(text: str) -> str:
    """Escape a string for a PDF literal."""
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def make_pdf(pages: tuple[tuple[str, ...], ...], title: str) -> bytes:
    """Write a minimal PDF: one Helvetica text object per page, Info dictionary, xref."""
    n = len(pages)
    font_id, info_id = 3 + 2 * n, 4 + 2 * n
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(f"{3 + 2 * i} 0 R".encode() for i in range(n))
        + f"] /Count {n} >>".encode(),
    ]
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            ops += [f"{_pdf_string(line)} Tj", "T*"]
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(f"<< /Title {_pdf_string(title)} /Producer (ragmem fixtures) >>".encode())
    assert len(objects) == info_id
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{num} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def make_docx() -> bytes:
    """Write a .docx with a title, a heading, paragraphs and a 2x2 table."""
    import docx

    document = docx.Document()
    document.core_properties.title = "Quarterly Notes"
    document.add_heading("Overview", level=1)
    document.add_paragraph("The index is rebuilt nightly.")
    document.add_paragraph("")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate((("Metric", "Value"), ("Recall@5", "0.82"))):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("Closing remark \u2014 caf\u00e9 \U0001f600.")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def main() -> None:
    """Write every fixture next to this script."""
    pdf = make_pdf(PDF_PAGES, title="RAG Primer")
    files = {
        "sample.pdf": pdf,
        "truncated.pdf": pdf[: len(pdf) // 2],
        "garbage.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 4,
        "sample.docx": make_docx(),
        "sample.html": (
            b"<!doctype html><html><head><title> Sample  Page </title>"
            b"<style>p{color:red}</style><script>var x = 1;</script></head><body>"
            b"<header>Site header</header><nav><a href='/'>Home</a></nav>"
            b"<main><h1>Main heading</h1><p>First   paragraph\nwith a line wrap.</p>"
            b"<p>Second paragraph<br>after a break.</p><!-- a comment -->"
            b"<form><input value='x'>Subscribe</form><ul><li>One</li><li>Two</li></ul>"
            b"</main><aside>Related links</aside><footer>Copyright</footer>"
            b"</body></html>\n"
        ),
        "sample.md": b"Intro line.\n\n# Markdown Title\n\nSome *emphasis* here.\n",
        "sample.jsonl": (
            b'{"id": 1, "title": "One", "text": "First record.", "lang": "en"}\n'
            b"\n"
            b'{"id": "b", "text": "Second record.", "metadata": {"k": [1, 2]}}\n'
        ),
    }
    for name, data in files.items():
        (HERE / name).write_bytes(data)
        print(f"wrote {name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
