"""A real feature server on a loopback port (uvicorn in a thread), over a loaded project."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from services.ingestion.gate import ingest_file
from services.serving.app import create_app
from services.settings import Settings
from services.store import Store, load_definitions
from tests.demo_repo import write_demo_data
from tests.waiting import wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()

        def started() -> bool:
            if not self.thread.is_alive():
                raise RuntimeError("feature server failed to start")
            return bool(self.server.started)

        wait_for(started, "the feature server to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def load_project(settings: Settings, tmp: Path) -> None:
    store = Store(settings)
    store.apply(load_definitions(settings.repo_path))
    files = write_demo_data(tmp / "raw", customers=40, days=8, seed=11)
    for name, path in files.paths.items():
        assert ingest_file(store, name, path).accepted
    store.close()


@pytest.fixture
def server(any_settings: Settings, tmp_path: Path) -> Iterator[tuple[ServerThread, httpx.Client]]:
    load_project(any_settings, tmp_path)
    with ServerThread(any_settings) as srv, httpx.Client(base_url=srv.url, timeout=10) as client:
        yield srv, client
