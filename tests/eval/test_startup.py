"""`ragmem bench startup`: fresh-process wall times of the four commands of issue 19.7 and of
a first answer with the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from eval.startup import commands, prepare_data_dir, prepare_in, run_startup, time_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_startup_times_every_command_without_loading_the_model(tmp_path, embedder) -> None:
    data = tmp_path / "data"
    prepare_data_dir(data, embedder)
    result = run_startup({"this": ROOT, "same": ROOT}, {"this": data, "same": data}, rounds=1)
    assert set(result["trees"]) == {"this", "same"}
    rows = result["trees"]["this"]["commands"]
    assert list(rows) == list(commands(data))
    for label, row in rows.items():
        assert row["exit_codes"] == [0], (label, row.get("error"))
        assert row["min_s"] > 0 and len(row["runs_s"]) == 1
        if label == "ask (defaults)":  # the default (hybrid) retriever embeds the question
            assert {"torch", "onnxruntime"} & set(row["heavy_modules"]), row
        elif label == "ask, onnx backend":  # the cached export, no sentence-transformers
            assert "onnxruntime" in row["heavy_modules"], row
            assert not {"sentence_transformers", "transformers"} & set(row["heavy_modules"])
        else:  # the other four load no model, graph or sparse matrix
            assert row["heavy_modules"] == [], (label, row)
    assert "this_speedup" in result["trees"]["same"]["commands"]["--help"]


@pytest.mark.unit
def test_time_command_reports_the_heavy_modules_a_run_imported() -> None:
    run = time_command(["--help"], ROOT)
    assert run["code"] == 0 and run["heavy"] == [] and run["seconds"] > 0
    failed = time_command(["no-such-command"], ROOT)
    assert failed["code"] != 0 and failed["error"]


@pytest.mark.unit
def test_a_tree_that_cannot_prepare_a_data_dir_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "rag").mkdir()
    (tmp_path / "rag" / "__init__.py").write_text("raise ImportError('a broken tree')\n")
    with pytest.raises(RuntimeError, match="(?s)preparing a data dir with.*a broken tree"):
        prepare_in(tmp_path, tmp_path / "data")  # the tree's own code runs, not ours


@pytest.mark.unit
def test_against_must_be_a_checkout(tmp_path) -> None:
    result = CliRunner().invoke(app, ["bench", "startup", "--against", str(tmp_path)])
    assert result.exit_code != 0 and "not a checkout" in " ".join(result.output.split())
