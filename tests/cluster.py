"""A real Redis Cluster for the tests: three masters and three replicas on local ports.

Started once per test run from ``redis-server --cluster-enabled yes`` and
``redis-cli --cluster create`` (this machine's Redis binaries), in a temporary folder, keeping
nothing on disk; stopped at the end of the run. A node can be killed and restarted to test a
failover.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
from pathlib import Path

import redis

from tests.waiting import wait_for

MASTERS = 3


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(n: int) -> list[int]:
    """``n`` ports whose cluster bus port (+10000) is free too; Redis needs them <= 55535."""
    rng = random.Random()
    found: list[int] = []
    while len(found) < n:
        port = rng.randrange(20_000, 45_000)
        if port not in found and _bindable(port) and _bindable(port + 10_000):
            found.append(port)
    return found


class RedisClusterProcesses:
    """Six ``redis-server`` processes joined as one cluster (one replica per master)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ports = _free_ports(2 * MASTERS)
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        binary = shutil.which("redis-server")
        cli = shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RuntimeError("redis-server and redis-cli are needed (installed on this machine)")
        self.binary, self.cli = binary, cli

    @property
    def nodes(self) -> str:
        """``SKEWLESS_REDIS_CLUSTER_NODES``: every node, as a client would be configured."""
        return ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def start_node(self, port: int) -> None:
        folder = self.root / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        self.procs[port] = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1500",
                "--save",
                "",
                "--appendonly",
                "no",
                "--repl-diskless-sync-delay",
                "0",
                "--dir",
                str(folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port)
        try:
            wait_for(lambda: _answers(client), f"redis-server on port {port}")
        finally:
            client.close()

    def start(self) -> RedisClusterProcesses:
        for port in self.ports:
            self.start_node(port)
        subprocess.run(
            [
                self.cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in self.ports),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        wait_for(self.ready, "the Redis Cluster to cover every slot with a synced replica")
        return self

    def ready(self) -> bool:
        """Every live node sees all slots served, and every master has a synced replica."""
        masters_with_replica = 0
        for port, proc in self.procs.items():
            if proc.poll() is not None:
                continue
            client = redis.Redis(port=port, socket_timeout=2)
            try:
                if client.cluster("info").get("cluster_state") != "ok":
                    return False
                info = client.info("replication")
                if info.get("role") == "slave" and info.get("master_link_status") == "up":
                    masters_with_replica += 1
            except redis.RedisError:
                return False
            finally:
                client.close()
        return masters_with_replica >= MASTERS

    def master_of(self, key: bytes) -> int:
        """The port of the master currently serving ``key``'s slot."""
        live = next(p for p, proc in self.procs.items() if proc.poll() is None)
        client = redis.cluster.RedisCluster(host="127.0.0.1", port=live)
        try:
            return int(client.get_node_from_key(key).port)
        finally:
            client.close()

    def kill(self, port: int) -> None:
        proc = self.procs[port]
        proc.kill()
        proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def _answers(client: redis.Redis[bytes]) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
