"""HTTP serving: the Skewless feature server vs ``feast serve``, both driven by wrk on loopback.

Servers are started with ``subprocess.Popen`` in their own process group (no shell), polled
for readiness with a deadline, and always stopped by PID in ``finally``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.measure import REPO_ROOT

LUA = """
math.randomseed(42)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local id = math.random(1, {users})
  local body = '{{"feature_service": "bench_service", "entities": {{"user_id": [' .. id .. ']}}}}'
  return wrk.format(nil, "/get-online-features", nil, body)
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(
    cmd: list[str], env: dict[str, str], port: int, log: Path, cwd: Path, ready_path: str = ""
) -> Iterator[None]:
    """Run a server until the block ends; ready when a real request (or ``ready_path``) is 200."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 90
            body = {"feature_service": "bench_service", "entities": {"user_id": [1]}}
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited ({proc.returncode}); see {log}")
                try:
                    if ready_path:
                        r = httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=5)
                    else:
                        url = f"http://127.0.0.1:{port}/get-online-features"
                        r = httpx.post(url, json=body, timeout=5)
                    if r.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not ready in 90 s; see {log}")
                time.sleep(0.5)
            yield
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(text: str) -> dict[str, Any]:
    """Requests/s, p50, p99 and errors (non-2xx/3xx + socket errors) from ``wrk --latency``."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", text).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", text).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text):
        errors += int(m.group(1))
    if m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    ):
        errors += sum(int(x) for x in m.groups())
    done = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors, "requests": done}


def run_wrk(port: int, script: Path, seconds: int) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    proc = subprocess.run(
        [
            wrk,
            "-t2",
            "-c32",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return parse_wrk(proc.stdout)


WORKERS = (1, 2)


def bench_http(
    scratch: Path,
    skewless_env: dict[str, str],
    feast_folder: Path,
    users: int,
    seconds: int,
    runs: int,
) -> dict[str, list[dict[str, Any]]]:
    """wrk against each server, ``runs`` times each; a fresh server per configuration.

    Keys: ``skewless_w{n}``, ``feast_sql_w{n}`` and ``feast_file_w{n}`` (Feast's SQL and file
    registries) for each worker count ``n`` of :data:`WORKERS`.
    """
    from bench.feast_side import yaml_file

    script = scratch / "post.lua"
    script.write_text(LUA.format(users=users))
    bindir = Path(sys.executable).parent
    out: dict[str, list[dict[str, Any]]] = {}
    for workers in WORKERS:
        port = free_port()
        cmd = [sys.executable, "-m", "services.cli", "serve", "--port", str(port)]
        cmd += ["--workers", str(workers)]
        name = f"skewless_w{workers}"
        with server(cmd, skewless_env, port, scratch / f"{name}.log", REPO_ROOT):
            out[name] = [run_wrk(port, script, seconds) for _ in range(runs)]
        for registry in ("sql", "file"):
            port = free_port()
            cmd = [
                str(bindir / "feast"),
                "-c",
                str(feast_folder),
                "-f",
                str(yaml_file(feast_folder, registry=registry)),
                "serve",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "--max-requests",
                "0",
                "-w",
                str(workers),
            ]
            name = f"feast_{registry}_w{workers}"
            with server(cmd, {}, port, scratch / f"{name}.log", feast_folder):
                out[name] = [run_wrk(port, script, seconds) for _ in range(runs)]
    return out
