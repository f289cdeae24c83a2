"""The filter of a job claim, shared by the SQLite and the PostgreSQL store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def job_filter(job_id: str | None, kind: str | None, not_kind: str | None,
               collection_id: int | None, statuses: Sequence[str],
               mark: str = "?") -> tuple[str, list[Any]]:
    """The WHERE clause (placeholders `mark`) and parameters of `claim_jobs` (both stores)."""
    if not statuses or set(statuses) - {"queued", "running"}:
        raise ValueError(f"jobs are claimed from queued/running, not {list(statuses)}")
    clauses = [f"status IN ({', '.join([mark] * len(statuses))})"]
    params: list[Any] = list(statuses)
    for column, op, value in (("id", "=", job_id), ("kind", "=", kind),
                              ("kind", "<>", not_kind), ("collection_id", "=", collection_id)):
        if value is not None:
            clauses.append(f"{column} {op} {mark}")
            params.append(value)
    return " AND ".join(clauses), params
