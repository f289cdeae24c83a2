"""The `ragmem` command line."""

from rag.cli.app import app, main

__all__ = ["app", "main"]
