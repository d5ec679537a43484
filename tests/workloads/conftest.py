"""Fixtures for rung-4 tests: the trained sklearn model and the real KServe server."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlplatform.scenarios.workloads.model import server_command
from tests.workloads.helpers import REPO, clean_env, free_port, wait_until_ready


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlplatform.scenarios.workloads.model.fit import fit

    path = tmp_path_factory.mktemp("model")
    assert fit(path)["accuracy"] > 0.9
    return path


@pytest.fixture(scope="session")
def model_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real KServe model server on a free loopback port; yields its base URL."""
    port = free_port()
    log = (tmp_path_factory.mktemp("serve") / "server.log").open("w")
    cmd = server_command(sys.executable, "iris", str(model_dir), port)
    proc = subprocess.Popen(cmd, cwd=REPO, env=clean_env(), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, "iris", proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
