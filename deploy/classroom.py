"""A classroom on one machine: N Streamlit replicas behind nginx.

    make classroom                    # N = the number of cores, http://127.0.0.1:8501
    REPLICAS=3 HOST=0.0.0.0 PORT=8080 make classroom

Each replica is an ordinary ``streamlit run`` on a loopback port of its own;
nginx (Debian's package) listens on HOST:PORT and keeps each browser on one
replica, because Streamlit holds a session's state in its process. The key is
a cookie (``gfl_replica``) that nginx itself sets on a browser's first request:
``hash … consistent`` sends every later request carrying it, the websocket's
upgrade included, to the same replica, and to the next one on the ring when
that one is down. Nothing is lost with a replica: the page's whole state is in
its link, the replicas share one signing secret (an upload's XSRF token is
good on every replica) and one upload store (``GFL_UPLOAD_STORE``), and this
supervisor starts a replica again when it dies.

It runs in the foreground; Ctrl-C or SIGTERM stops nginx and every replica,
and removes the run folder (its config, logs and, unless ``GFL_UPLOAD_STORE``
names another place, the uploads). It prints one line per event so that a
test can follow it: ``replica 0 pid 1234 port 40123``, ``ready http://…``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app" / "streamlit_app.py"
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
AFFINITY_COOKIE = "gfl_replica"
START_TIMEOUT = 90.0  # seconds for a replica's first health answer
POLL = 0.5  # seconds between looks at the children


@dataclass
class Replica:
    index: int
    port: int
    process: subprocess.Popen | None = None
    restarts: int = 0


@dataclass
class Classroom:
    host: str
    port: int
    replicas: list[Replica]
    folder: Path
    upload_store: Path
    cookie_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    nginx: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{shown}:{self.port}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nginx_config(classroom: Classroom) -> str:
    """The proxy's configuration: the template with this classroom's values."""
    servers = "\n".join(
        f"        server 127.0.0.1:{r.port} max_fails=1 fail_timeout=10s;"
        for r in classroom.replicas
    )
    values = {
        "folder": str(classroom.folder),
        "user": "user nobody nogroup;" if os.geteuid() == 0 else "",
        "listen": _listen(classroom.host, classroom.port),
        "servers": servers,
        "cookie": AFFINITY_COOKIE,
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def _listen(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_config(path: Path, folder: Path) -> None:
    """``nginx -t`` on the configuration; raises with nginx's own words."""
    done = subprocess.run(
        [NGINX, "-t", "-p", str(folder), "-c", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"nginx -t refused {path}:\n{done.stderr}")


def prepare(host: str, port: int, count: int, upload_store: str | None) -> Classroom:
    folder = Path(tempfile.mkdtemp(prefix="gfl-classroom-"))
    folder.chmod(0o755)  # nginx's workers (nobody) write their temp files below it
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
        (folder / name).mkdir()
        if os.geteuid() == 0:
            shutil.chown(folder / name, "nobody", "nogroup")
    store = Path(upload_store) if upload_store else folder / "uploads"
    store.mkdir(parents=True, exist_ok=True)
    replicas = [Replica(i, free_port()) for i in range(count)]
    classroom = Classroom(host, port, replicas, folder, store)
    conf = folder / "nginx.conf"
    conf.write_text(nginx_config(classroom))
    check_config(conf, folder)
    return classroom


# What all the replicas' caches hold together, as a share of one process's
# (app.budget): half. Each replica also holds its own Python, Streamlit,
# NumPy and Plotly and its reruns' working arrays (about 450 MB each under 40
# students); with the whole budget split between two replicas, their resident
# memory passed 2 GB once 500 distinct settings had filled the caches.
CACHE_SHARE = 0.5


def start_replica(classroom: Classroom, replica: Replica) -> None:
    env = dict(
        os.environ,
        GFL_UPLOAD_STORE=str(classroom.upload_store),
        GFL_REPLICA=str(replica.index),
        GFL_CACHE_SHARE=str(CACHE_SHARE / len(classroom.replicas)),
        STREAMLIT_SERVER_COOKIE_SECRET=classroom.cookie_secret,
    )
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(replica.port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    log = open(classroom.folder / "logs" / f"replica{replica.index}.log", "ab")  # noqa: SIM115
    replica.process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()
    say(f"replica {replica.index} pid {replica.process.pid} port {replica.port}")


def start_nginx(classroom: Classroom) -> None:
    classroom.nginx = subprocess.Popen(
        [
            NGINX,
            "-p",
            str(classroom.folder),
            "-c",
            str(classroom.folder / "nginx.conf"),
            "-g",
            "daemon off;",
        ],
        start_new_session=True,
    )
    say(f"nginx pid {classroom.nginx.pid}")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_healthy(classroom: Classroom, stopping: list[bool]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    waiting = list(classroom.replicas)
    while waiting and not stopping:
        if time.monotonic() > deadline:
            raise RuntimeError(f"replicas {[r.index for r in waiting]} did not start")
        waiting = [r for r in waiting if not healthy(f"http://127.0.0.1:{r.port}")]
        for replica in waiting:
            if replica.process is not None and replica.process.poll() is not None:
                raise RuntimeError(f"replica {replica.index} exited while starting")
        time.sleep(POLL)


def wait_for_proxy(classroom: Classroom, stopping: list[bool]) -> None:
    """Until nginx answers the health check on the classroom's own address."""
    deadline = time.monotonic() + 30
    while not stopping and not healthy(f"http://127.0.0.1:{classroom.port}"):
        if classroom.nginx.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"nginx did not answer on port {classroom.port}")
        time.sleep(0.1)


def supervise(classroom: Classroom, stopping: list[bool]) -> int:
    """Start a dead replica again; end when nginx ends or a stop is asked."""
    while not stopping:
        if classroom.nginx is not None and classroom.nginx.poll() is not None:
            say(f"nginx exited with {classroom.nginx.returncode}")
            return 1
        for replica in classroom.replicas:
            if replica.process is not None and replica.process.poll() is not None:
                say(f"replica {replica.index} exited with {replica.process.returncode}")
                replica.restarts += 1
                start_replica(classroom, replica)
        time.sleep(POLL)
    return 0


def stop(classroom: Classroom) -> None:
    """SIGTERM every child's process group, SIGKILL what is left after 10 s."""
    children = [r.process for r in classroom.replicas if r.process is not None]
    if classroom.nginx is not None:
        children.append(classroom.nginx)
    for child in children:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.wait()
    shutil.rmtree(classroom.folder, ignore_errors=True)
    say("stopped")


def _signal_group(child: subprocess.Popen, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, number)


def say(line: str) -> None:
    print(f"classroom: {line}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8501))
    parser.add_argument(
        "--replicas", type=int, default=int(os.environ.get("REPLICAS") or os.cpu_count() or 1)
    )
    parser.add_argument("--check", action="store_true", help="write the config, nginx -t, exit")
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    classroom = prepare(args.host, args.port, args.replicas, os.environ.get("GFL_UPLOAD_STORE"))
    if args.check:
        say(f"nginx -t passed: {classroom.folder / 'nginx.conf'}")
        shutil.rmtree(classroom.folder, ignore_errors=True)
        return 0
    stopping: list[bool] = []

    def ask_stop(_number, _frame):
        stopping.append(True)

    signal.signal(signal.SIGTERM, ask_stop)
    signal.signal(signal.SIGINT, ask_stop)
    code = 1
    try:
        say(f"folder {classroom.folder}")
        for replica in classroom.replicas:
            start_replica(classroom, replica)
        wait_healthy(classroom, stopping)
        if not stopping:
            start_nginx(classroom)
            wait_for_proxy(classroom, stopping)
            say(f"ready {classroom.url} ({len(classroom.replicas)} replicas)")
        code = supervise(classroom, stopping)
    except RuntimeError as error:
        say(str(error))
    finally:
        stop(classroom)
    return code


if __name__ == "__main__":
    sys.exit(main())
