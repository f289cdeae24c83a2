"""Starts `ragmem serve` processes by forking one interpreter that has already imported
the heavy modules, so a kill -9 round costs a model load and a recovery, not the 5-25 s
import of torch and transformers.

Each server is still its own process (own pid, session, data-dir lock, event loop,
model and SQLite connections) running the real `ragmem serve` entry point; only the
imports are shared. The test talks to this helper over its stdin/stdout, one JSON line
per request:

    {"op": "spawn", "args": [...], "log": PATH, "cwd": DIR, "env": {...},
     "fsize": BYTES | null}                    -> {"pid": N}
    {"op": "wait", "pid": N, "timeout": S}     -> {"code": exit code, or null if alive}
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback


def _child(request: dict) -> None:
    """In the forked child: a new session, output to the log, then `ragmem ARGS`."""
    code = 1
    try:
        os.setsid()
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        if request.get("fsize") is not None:  # a full disk: writes past it fail with EFBIG
            import resource

            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (request["fsize"], request["fsize"]))
        os.chdir(request.get("cwd") or os.getcwd())
        os.environ.update(request.get("env") or {})
        sys.argv = ["ragmem", *request["args"]]
        from api.cli import main

        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the child must never return into the loop
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return -1  # reaped already
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def main() -> None:
    import sentence_transformers  # noqa: F401
    import uvicorn  # noqa: F401

    import api.app  # noqa: F401 - the imports every server start would pay for
    import api.cli  # noqa: F401

    out = sys.stdout
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "spawn":
            out.flush()
            pid = os.fork()
            if pid == 0:
                _child(request)
            reply = {"pid": pid}
        elif request["op"] == "wait":
            reply = {"code": _wait(request["pid"], request.get("timeout", 0))}
        else:
            reply = {"error": f"unknown op {request['op']!r}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
