"""Fixtures of the smoke tests: one broker process per test module."""

import pytest

from runnel_server import RUNNEL_BIN, Server


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("runnel-data")


@pytest.fixture(scope="module")
def server(data_dir, tmp_path_factory):
    assert RUNNEL_BIN.is_file(), f"no runnel binary at {RUNNEL_BIN}; build it or set RUNNEL_BIN"
    server = Server(data_dir, tmp_path_factory.mktemp("logs") / "serve.log")
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()
