"""Fixtures shared by the ``unival serve`` tests: one toy server per test session."""

import pytest
from serve_fixtures import start_server, stop_server

from unival.hub import load


@pytest.fixture(scope="session")
def toy_server(tmp_path_factory):
    """``unival serve`` with toy caption, grounding and audio caption checkpoints
    (serve_fixtures.py)."""
    running = start_server(tmp_path_factory.mktemp("serve"))
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def toy_server_api(toy_server):
    """The served checkpoints loaded in this process: the answers the server must give."""
    return {task: load(path, device="cpu") for task, path in toy_server.checkpoints.items()}
