"""Redis down: 503 (never a hang or a 500), /health says so, and the server recovers by itself.

A Redis that comes back empty answers again, but /health stays 503 ``degraded`` until the
values are materialized again (see tests/integration/test_online_state.py).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from services.settings import Settings
from tests.integration.serving.conftest import ServerThread, free_port, load_project
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


class RedisProcess:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server must be installed (it is on this machine kind)"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        try:
            wait_for(answers, f"redis-server on port {self.port}")
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


def test_redis_outage_gives_503_and_recovers(
    make_settings: Callable[..., Settings], private_redis: RedisProcess, tmp_path: Path
) -> None:
    settings = make_settings("redis", redis_url=f"redis://127.0.0.1:{private_redis.port}/0")
    load_project(settings, tmp_path)
    body = {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [1, 2]}}
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        assert client.post("/get-online-features", json=body).status_code == 200
        private_redis.stop()
        for _ in range(3):
            r = client.post("/get-online-features", json=body)
            assert r.status_code == 503, r.text
            assert r.json()["error"] == "online_store_unavailable"
        assert client.get("/health").status_code == 503
        assert "skewless_online_store_errors_total 3.0" in client.get("/metrics").text
        private_redis.start()  # empty: it keeps nothing on disk
        r = client.post("/get-online-features", json=body)
        assert r.status_code == 200
        assert r.json()["results"][1]["statuses"] == ["NOT_FOUND", "NOT_FOUND"]
        health = client.get("/health")  # it answers, but what was materialized is gone
        assert health.status_code == 503
        assert health.json()["status"] == "degraded"


def test_the_server_survives_a_redis_restart_under_load(
    make_settings: Callable[..., Settings], private_redis: RedisProcess, tmp_path: Path
) -> None:
    import threading
    from collections import Counter

    settings = make_settings("redis", redis_url=f"redis://127.0.0.1:{private_redis.port}/0")
    load_project(settings, tmp_path)
    body = {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [1, 2]}}
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    phase = {"stop": False}

    with ServerThread(settings) as srv:

        def hammer() -> None:
            with httpx.Client(base_url=srv.url, timeout=30) as client:
                for _ in range(2000):  # bounded
                    if phase["stop"]:
                        return
                    try:
                        statuses[client.post("/get-online-features", json=body).status_code] += 1
                    except httpx.HTTPError as exc:  # a hang or dropped connection is a failure
                        failures.append(repr(exc))

        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for w in workers:
            w.start()
        # Each phase lasts until the hammering has seen what it is about, not for a set time.
        wait_for(lambda: statuses[200] > 0, "reads served before the outage")
        private_redis.stop()
        wait_for(lambda: statuses[503] > 0, "503s during the outage")
        served = statuses[200]
        private_redis.start()
        wait_for(lambda: statuses[200] > served + 20, "reads served again after the restart")
        phase["stop"] = True
        for w in workers:
            w.join(timeout=60)
        with httpx.Client(base_url=srv.url, timeout=10) as client:
            assert client.post("/get-online-features", json=body).status_code == 200
    assert not failures, failures[:3]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[200] > 0
    assert statuses[503] > 0
