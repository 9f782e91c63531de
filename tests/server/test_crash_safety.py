"""kill -9 of the server process during an upload, then a restart: no task is lost or corrupt."""

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sketch.format import save_sketched_base
from tests.server.api_helpers import tiny_base, write_task_lut

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_dir: Path, store: Path, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "server.cli", "serve", "--model", str(model_dir), "--lut-store", str(store),
           "--port", str(port), "--device", "cpu", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not become ready")


def get_json(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return json.loads(r.read())


def upload(port: int, task: str, data: bytes) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/tasks/{task}/lut", data, method="PUT")
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def send_partial_upload(port: int, task: str, data: bytes, fraction: float) -> socket.socket:
    """Start a PUT and send only `fraction` of the body; the socket is left open."""
    sock = socket.create_connection(("127.0.0.1", port))
    head = (f"PUT /v1/tasks/{task}/lut HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n")
    sock.sendall(head.encode() + data[: int(len(data) * fraction)])
    return sock


@pytest.mark.slow
def test_kill_9_during_upload_leaves_old_or_new_version(tmp_path):
    base = tiny_base()
    model_dir = tmp_path / "model"
    save_sketched_base(base, model_dir)
    store = tmp_path / "store"
    v1 = write_task_lut(base, tmp_path / "v1.safetensors", seed=1).read_bytes()
    v2 = write_task_lut(base, tmp_path / "v2.safetensors", seed=2).read_bytes()
    digests = {hashlib.sha256(v1).hexdigest(), hashlib.sha256(v2).hexdigest()}

    port = free_port()
    proc = start_server(model_dir, store, port)
    assert upload(port, "t", v1)["version"] == 1
    # kill mid-body, then at several moments after the whole body was sent (while validating / storing)
    for fraction, delay in [(0.5, 0.2), (1.0, 0.0), (1.0, 0.02), (1.0, 0.1)]:
        sock = send_partial_upload(port, "t", v2, fraction)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        sock.close()
        port = free_port()
        proc = start_server(model_dir, store, port)
        info = get_json(port, "/v1/tasks/t")
        assert info["sha256"] in digests, "the stored version is neither the old nor the new file"
        assert get_json(port, "/v1/models")["data"][1]["id"] == "t"
        assert not list((store / "incoming").glob("*.upload")), "partial uploads are cleaned at start-up"
    # the store still takes writes, and versions only grow
    after = upload(port, "t", v2)
    assert after["version"] > info["version"]
    proc.send_signal(signal.SIGTERM)  # graceful stop; uvicorn re-raises the signal once it has shut down
    assert proc.wait(60) in (0, -signal.SIGTERM)
