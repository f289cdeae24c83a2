"""`ragmem bench replicas` (issue 14): its pure parts, and a tiny real run (two
`ragmem serve` replicas on loopback over a throwaway PostgreSQL)."""

from __future__ import annotations

import pytest

from eval.replicas import check_store_url, document, percentile, replicas_table, run_replicas
from rag.errors import InvalidInputError


@pytest.mark.unit
def test_the_bench_needs_a_postgresql_url() -> None:
    for bad in (None, "", "sqlite:///x", "/tmp/ragmem.sqlite3"):
        with pytest.raises(InvalidInputError, match="PostgreSQL"):
            check_store_url(bad)
    assert check_store_url("postgresql://u@h/db") == "postgresql://u@h/db"


@pytest.mark.unit
def test_lag_percentiles_and_table() -> None:
    assert percentile([10, 20, 30, 40], 50) == 25.0 and percentile([], 95) == 0.0
    texts = [document(n)["text"] for n in range(50)]
    assert all(sum(f"rep{n}tok" in t for t in texts) == 1 for n in range(50))  # unique tokens
    table = replicas_table({"lag_ms_p50": 300.0, "lag_ms_p95": 700.0, "lag_ms_max": 900.0,
                            "asks_per_s_1": 5.0, "asks_per_s_2": 5.5, "speedup": 1.1})
    assert "| 300.0 ms | 700.0 ms | 900.0 ms | 5.0 | 5.5 | 1.1x |" in table


@pytest.mark.integration
@pytest.mark.slow
def test_a_tiny_run_measures_lag_and_throughput(pg_url) -> None:
    result = run_replicas(pg_url, docs=3, asks=4, clients=2, rounds=1)
    assert result["docs"] == 3 and 0 < result["lag_ms_p50"] <= result["lag_ms_p95"] < 30_000
    assert result["asks_per_s_1"] > 0 and result["asks_per_s_2"] > 0
