"""The eval floor's commands: `ragmem bench ...` and `ragmem calibrate` (api/cli.py
assembles them with the rag floor's commands into the `ragmem` app)."""

from eval.cli import longctx  # noqa: F401  (registers `bench needle` and `bench longctx`)
from eval.cli.bench import bench_app
from eval.cli.calibrate import calibrate

__all__ = ["bench_app", "calibrate"]
