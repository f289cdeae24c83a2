"""Ingestion: parse uploaded files and records into documents, split them into chunks."""

from rag.ingest.chunking import TextSpan, chunk_text, split_sentences
from rag.ingest.parsers import (
    DEFAULT_MAX_BYTES,
    SUPPORTED_SUFFIXES,
    ParsedDocument,
    parse_file,
    parse_records,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SUPPORTED_SUFFIXES",
    "ParsedDocument",
    "TextSpan",
    "chunk_text",
    "parse_file",
    "parse_records",
    "split_sentences",
]
