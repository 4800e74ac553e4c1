"""A `runnel serve` subprocess for the smoke tests, shared by every test module."""

import os
import pathlib
import signal
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUNNEL_BIN = pathlib.Path(os.environ.get("RUNNEL_BIN", ROOT / "target" / "debug" / "runnel"))
START_TIMEOUT = 20  # seconds until the broker must accept connections
STOP_TIMEOUT = 30  # seconds until the broker must exit after SIGTERM
CLIENT_TIMEOUT = 30  # seconds any client step may take


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `runnel serve` subprocess over a data directory."""

    def __init__(self, data_dir, log_path):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Not the default admin port: a module may start a broker while another runs.
        self.admin_address = f"127.0.0.1:{free_port()}"
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [
                str(RUNNEL_BIN),
                "serve",
                "--data-dir",
                str(data_dir),
                "--listen",
                self.address,
                "--admin-listen",
                self.admin_address,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_until_listening()

    def wait_until_listening(self):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"runnel serve exited with {self.process.returncode}: {self.logs()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.process.kill()
                    pytest.fail(f"runnel serve not listening after {START_TIMEOUT}s: {self.logs()}")
                time.sleep(0.02)

    def stop(self):
        """SIGTERM, then the exit code (killing the process if it does not exit in time)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"runnel serve still running {STOP_TIMEOUT}s after SIGTERM: {self.logs()}")
        finally:
            self.log.close()

    def logs(self):
        self.log.flush()
        return pathlib.Path(self.log_path).read_text(errors="replace")
