"""Redis Cluster: a master failing over is a 503 for its slots, then service resumes by itself.

The master serving a requested entity is killed; reads of it answer 503 (never a hang or a 500)
until its replica has taken over, then the same values come back, from the promoted replica,
without restarting the server. The killed node is started again and rejoins as a replica, so
the shared cluster is whole for the tests after this one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis

from services.online.keys import redis_key
from services.resolution import plan_features
from services.settings import Settings
from services.store import Store
from tests.cluster import RedisClusterProcesses
from tests.integration.serving.conftest import ServerThread, load_project
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

BODY = {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [1, 2, 3]}}


def test_a_master_failing_over_is_a_503_then_recovery(
    make_settings: Callable[..., Settings],
    redis_cluster: RedisClusterProcesses,
    tmp_path: Path,
) -> None:
    settings = make_settings("redis_cluster", redis_cluster_nodes=redis_cluster.nodes)
    load_project(settings, tmp_path)  # ingest writes online, into the cluster
    store = Store(settings)
    read = plan_features(store, BODY["features"]).views[0]
    key = redis_key(store.project, read.key_columns, (1,))
    store.close()
    victim = redis_cluster.master_of(key)
    master = redis.Redis(port=victim)
    try:
        assert master.execute_command("WAIT", 1, 10_000) >= 1  # the replica has every write
    finally:
        master.close()

    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        before = client.post("/get-online-features", json=BODY)
        assert before.status_code == 200, before.text
        assert before.json()["results"][1]["statuses"][0] == "PRESENT"
        assert client.get("/health").status_code == 200

        redis_cluster.kill(victim)
        down = client.post("/get-online-features", json=BODY)
        assert down.status_code == 503, down.text
        assert down.json()["error"] == "online_store_unavailable"

        def served_again() -> bool:
            answer = client.post("/get-online-features", json=BODY)
            assert answer.status_code in (200, 503), answer.text  # never a 500
            return answer.status_code == 200

        wait_for(served_again, "reads served again after the replica took over")
        after = client.post("/get-online-features", json=BODY)
        assert after.json()["results"] == before.json()["results"]
        assert redis_cluster.master_of(key) != victim
        wait_for(lambda: client.get("/health").status_code == 200, "/health ok again")
        assert "skewless_online_store_errors_total" in client.get("/metrics").text

    redis_cluster.start_node(victim)  # it rejoins as a replica of the promoted master
    wait_for(redis_cluster.ready, "the cluster whole again")
