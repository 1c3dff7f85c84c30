"""`make classroom`: replicas behind nginx, sticky sessions, a replica's death.

One classroom (two replicas) for the module, started the way the Makefile
starts it (``python -m deploy.classroom``); the last test stops it with
SIGTERM and checks that every process it started is gone.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import sync_playwright
from websockets.sync.client import connect

from deploy import classroom as classroom_module
from tests.browser_support import (
    ROOT,
    chart_traces,
    free_port,
    launch_chromium,
    new_page,
    wait_for_chart,
    wait_until_idle,
)

pytestmark = pytest.mark.browser
TIMEOUT = 90_000
LINK = "/?cell=rnn,gru&T=60&seed=4"
CHART = "gradient_flow"


class Running:
    """The supervisor's process and what its output lines have said."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 120.0, after: int = 0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                found = re.search(pattern, line)
                if found:
                    return found
            if not self.reader.is_alive():  # every writer of the pipe is gone
                break
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))

    def pids(self) -> set[int]:
        found = set()
        for line in self.lines:
            match = re.search(r"pid (\d+)", line)
            if match:
                found.add(int(match.group(1)))
        return found

    def replica_pid(self, port: int) -> int:
        pid = None
        for line in self.lines:
            match = re.search(rf"replica \d+ pid (\d+) port {port}$", line)
            if match:
                pid = int(match.group(1))
        assert pid is not None, f"no replica on port {port}: {self.lines}"
        return pid


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    port = free_port()
    store = tmp_path_factory.mktemp("uploads")
    env = dict(os.environ, GFL_UPLOAD_STORE=str(store), REPLICAS="2", PORT=str(port))
    # As the README says, through make, in a process group of its own as a
    # terminal would start it; this interpreter's venv stands for .venv.
    process = subprocess.Popen(
        ["make", "-s", "classroom", f"VENV={sys.prefix}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    running = Running(process)
    running.url = f"http://127.0.0.1:{port}"
    try:
        running.wait_for(r"ready http://")
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        running.reader.join(timeout=5)
        process.stdout.close()


def _get(url: str, cookie: str | None = None):
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.status, dict(reply.headers), reply.read()


def test_the_generated_proxy_configuration_passes_nginx_t():
    """``--check`` writes the configuration and runs ``nginx -t`` on it."""
    done = subprocess.run(
        [sys.executable, "-m", "deploy.classroom", "--check", "--replicas", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nginx -t passed" in done.stdout


def test_health_answers_through_the_proxy(classroom):
    status, headers, body = _get(classroom.url + "/_stcore/health")
    assert (status, body.strip()) == (200, b"ok")
    assert headers["Server"].startswith("nginx")


def test_a_browser_stays_on_its_replica(classroom):
    _, first, _ = _get(classroom.url + "/")
    cookie = first["Set-Cookie"].split(";")[0]
    assert cookie.startswith(classroom_module.AFFINITY_COOKIE + "=")
    replicas = {_get(classroom.url + "/", cookie)[1]["X-Replica"] for _ in range(8)}
    assert len(replicas) == 1
    # Fresh browsers are spread: 24 of them do not all land on one replica.
    spread = {_get(classroom.url + "/")[1]["X-Replica"] for _ in range(24)}
    assert len(spread) == 2


def test_the_proxy_passes_the_websocket_upgrade(classroom):
    ws_url = classroom.url.replace("http://", "ws://") + "/_stcore/stream"
    with connect(ws_url, subprotocols=["streamlit"], open_timeout=10) as socket:
        assert socket.response.status_code == 101
        assert socket.subprotocol == "streamlit"


def test_the_upload_store_is_shared_between_processes(tmp_path):
    """What one process remembers, a process that never saw the file recalls."""
    data = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(
        data,
        weight_ih=rng.normal(size=(3, 1)),
        weight_hh=rng.normal(size=(3, 3)),
        bias_ih=np.zeros(3),
        bias_hh=np.zeros(3),
    )
    upload = tmp_path / "weights.npz"
    upload.write_bytes(data.getvalue())
    env = dict(os.environ, GFL_UPLOAD_STORE=str(tmp_path / "store"))
    write = (
        "import sys; from pathlib import Path; from app import upload;"
        "data = Path(sys.argv[1]).read_bytes();"
        "print(upload.remember(upload.read_weights(data), data))"
    )
    read = (
        "import sys; from app import upload; w = upload.recall(sys.argv[1]);"
        "print(w.kind, w.hidden_size, w.digest)"
    )
    digest = _python(write, str(upload), env=env).strip()
    assert _python(read, digest, env=env).split() == ["rnn", "3", digest]
    alone = dict(os.environ)
    alone.pop("GFL_UPLOAD_STORE", None)
    with pytest.raises(AssertionError, match="NoneType"):
        _python(read, digest, env=alone)


def _python(code: str, *args: str, env: dict) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _drawn(page) -> list[list[float]]:
    wait_for_chart(page, CHART, timeout=TIMEOUT)
    wait_until_idle(page, timeout=TIMEOUT)
    return [list(trace["y"]) for trace in chart_traces(page, CHART)]


def test_a_page_survives_the_death_of_its_replica(classroom):
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = new_page(browser)
            reply = page.goto(classroom.url + LINK)
            port = int(reply.headers["x-replica"].rsplit(":", 1)[1])
            before = _drawn(page)
            assert before and all(before)
            seen = len(classroom.lines)
            os.kill(classroom.replica_pid(port), signal.SIGKILL)
            classroom.wait_for(r"replica \d+ exited", after=seen)
            page.reload()
            assert _drawn(page) == before
            classroom.wait_for(rf"replica \d+ pid \d+ port {port}$", after=seen)
            (ROOT / "test-output").mkdir(exist_ok=True)
            page.screenshot(path=str(ROOT / "test-output" / "classroom_after_kill.png"))
        finally:
            browser.close()


def test_the_replicas_share_half_of_one_processs_cache_budget(classroom):
    running = {}  # replica → its newest pid (a killed one is started again)
    for line in classroom.lines:
        match = re.search(r"replica (\d+) pid (\d+)", line)
        if match:
            running[match.group(1)] = int(match.group(2))
    assert len(running) == 2
    for pid in running.values():
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert b"GFL_CACHE_SHARE=0.25" in environ, pid


def test_sigterm_stops_every_process_it_started(classroom):
    pids = classroom.pids()
    folder = Path(classroom.wait_for(r"folder (\S+)").group(1))
    assert folder.is_dir()
    assert len(pids) >= 3  # two replicas and nginx, and any restart
    os.killpg(classroom.process.pid, signal.SIGTERM)  # make and the supervisor
    classroom.process.wait(timeout=30)
    classroom.wait_for("stopped", timeout=5)
    time.sleep(0.5)
    alive = [pid for pid in pids if _alive(pid)]
    assert alive == [], f"still running after SIGTERM: {alive}"
    assert not folder.exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of another parent is gone for our purposes
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"
