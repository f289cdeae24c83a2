"""The README's Python example runs as written (in a temporary working directory)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[1] / "README.md"


def python_example() -> str:
    section = README.read_text(encoding="utf-8").split("### From Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README has no ```python block under 'From Python'"
    return match.group(1)


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(python_example(), "README.md", "exec"), {})  # noqa: S102 - our own README
    lines = out.getvalue().splitlines()
    assert "1889" in lines[0] and lines[0].endswith("False")  # answered, not abstained
    document_id, start, end, text = lines[1].split(" ", 3)
    assert int(end) - int(start) == len(text) and "1889" in text
    assert lines[-1] == "rome"
    assert (tmp_path / "ragmem-data-py" / "ragmem.sqlite3").exists()
