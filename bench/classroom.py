"""Forty students on one machine: simulated browsers against one process and
against `make classroom`, side by side in one run.

    .venv/bin/python bench/classroom.py [--students 40] [--seconds 60] \
        [--pause 3] [--replicas 2] [--out bench/results/classroom.md]

Each student speaks Streamlit's own websocket protocol (no browser): it asks
for the page once, then every ``--pause`` seconds (±50 % jitter) moves one of
the sidebar's sliders (T, H, or ρ) to a random value, as a browser does, by
sending a ``rerun_script`` with that widget's new state. Two times per move,
both from the send: to the rerun's first chart (the chart redrawn, what the
student waits for), and to the server's ``script_finished`` that ends it
successfully (the whole rerun: the in-chart slider's runs, made after the
page is sent, and the chart drawn again in place with that slider, included). Errors: an
exception element in the page, a dropped socket, or a rerun that took longer
than ``--timeout``. Memory: the resident set of the server's processes
(every replica, and nginx), sampled each second.

Every request goes to 127.0.0.1; the students and the run are bounded in
count and time, and the servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser_support import free_port, streamlit_server  # noqa: E402

SLIDERS = {  # label → the values a student may move it to
    "Sequence length T (steps)": [float(t) for t in range(20, 401, 10)],
    "Hidden size H (units)": [float(h) for h in range(4, 65, 2)],
    "Spectral radius ρ of W_hh (largest |eigenvalue|)": [x / 20 for x in range(10, 41)],
}
FINISHED = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_SUCCESSFULLY")


@dataclass
class Tally:
    reruns: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    settings: set = field(default_factory=set)
    charts: list[float] = field(default_factory=list)  # send → the first chart of the rerun
    first_asked: list[float] = field(default_factory=list)  # when each distinct setting was


class Student:
    """One simulated browser: a websocket, the sliders it saw, its reruns."""

    def __init__(self, url: str, rng: random.Random, tally: Tally, timeout: float):
        self.url = url
        self.rng = rng
        self.tally = tally
        self.timeout = timeout
        self.sliders: dict[str, str] = {}  # label → widget id
        self.values: dict[str, float] = {}

    async def attend(self, until: float, pause: float) -> None:
        cookie = await asyncio.to_thread(_affinity_cookie, self.url)
        ws_url = self.url.replace("http://", "ws://") + "/_stcore/stream"
        headers = {"Cookie": cookie} if cookie else {}
        try:
            async with connect(
                ws_url,
                subprotocols=["streamlit"],
                additional_headers=headers,
                max_size=None,
                open_timeout=30,
            ) as socket:
                await self._rerun(socket, None)
                while time.monotonic() + pause < until:
                    await asyncio.sleep(pause * self.rng.uniform(0.5, 1.5))
                    if not self.sliders:
                        self.tally.errors.append("no slider seen")
                        return
                    label = self.rng.choice(sorted(self.sliders))
                    value = self.rng.choice(SLIDERS[label])
                    self.values[label] = value
                    setting = tuple(sorted(self.values.items()))
                    if setting not in self.tally.settings:
                        self.tally.settings.add(setting)
                        self.tally.first_asked.append(time.monotonic())
                    await self._rerun(socket, (self.sliders[label], value))
        except Exception as error:  # a dropped socket counts; the run goes on
            self.tally.errors.append(f"{type(error).__name__}: {error}")

    async def _rerun(self, socket, moved: tuple[str, float] | None) -> None:
        message = BackMsg()
        message.rerun_script.query_string = ""
        if moved is not None:
            state = message.rerun_script.widget_states.widgets.add()
            state.id = moved[0]
            state.double_array_value.data.append(moved[1])
        started = time.monotonic()
        await socket.send(message.SerializeToString())
        try:
            charted = await asyncio.wait_for(self._until_finished(socket), self.timeout)
        except TimeoutError:
            self.tally.errors.append(f"rerun over {self.timeout} s")
            return
        if moved is not None:
            self.tally.reruns.append(time.monotonic() - started)
            if charted is not None:
                self.tally.charts.append(charted - started)

    async def _until_finished(self, socket) -> float | None:
        """Read the rerun's messages until its script finishes; returns when
        its first chart arrived (the chart redrawn, before the in-chart
        slider's runs and the chart they draw again)."""
        charted = None
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(await socket.recv())
            kind = reply.WhichOneof("type")
            if kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
                element = reply.delta.new_element
                which = element.WhichOneof("type")
                if which == "plotly_chart" and charted is None:
                    charted = time.monotonic()
                if which == "slider" and element.slider.label in SLIDERS:
                    self.sliders[element.slider.label] = element.slider.id
                elif which == "exception":
                    self.tally.errors.append("exception: " + element.exception.message[:80])
            elif kind == "script_finished" and reply.script_finished == FINISHED:
                return charted


def _affinity_cookie(url: str) -> str | None:
    """What a browser holds after loading the page: the proxy's cookie, if any."""
    with urllib.request.urlopen(url + "/", timeout=30) as reply:
        cookie = reply.headers.get("Set-Cookie")
    return cookie.split(";")[0] if cookie and cookie.startswith("gfl_replica") else None


class Memory:
    """Peak and last resident set (MB) of a changing set of processes, and
    the CPU seconds they used while it watched (``cpu_seconds``)."""

    def __init__(self, pids):
        self.pids = pids  # a callable returning the current pids
        self.peak = 0.0
        self.last = 0.0
        self.samples: list[float] = []
        self.times: list[float] = []  # time.monotonic() of each sample
        self._cpu: dict[int, tuple[float, float]] = {}  # pid → (first, last) CPU seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def cpu_seconds(self) -> float:
        return sum(last - first for first, last in self._cpu.values())

    def _sample_cpu(self, pids) -> None:
        for pid in pids:
            used = _cpu_seconds(pid)
            if used is not None:
                first, _ = self._cpu.get(pid, (used, used))
                self._cpu[pid] = (first, used)

    def __enter__(self):
        self._sample_cpu(self.pids())
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            pids = self.pids()
            self._sample_cpu(pids)
            total = sum(_rss_mb(pid) for pid in pids)
            self.samples.append(total)
            self.times.append(time.monotonic())
            self.last = total
            self.peak = max(self.peak, total)


def _cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds ``pid`` has used, or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


async def _lesson(url: str, args, seed: int) -> Tally:
    tally = Tally()
    until = time.monotonic() + args.seconds
    students = [
        Student(url, random.Random(seed * 1000 + i), tally, args.timeout)
        for i in range(args.students)
    ]

    # Students arrive over the first pause, not all in one instant.
    async def arrive(i: int, student: Student) -> None:
        await asyncio.sleep(args.pause * i / args.students)
        await student.attend(until, args.pause)

    await asyncio.gather(*(arrive(i, s) for i, s in enumerate(students)))
    return tally


def _run(url: str, pids, args, seed: int) -> tuple[Tally, Memory, float]:
    started = time.monotonic()
    with Memory(pids) as memory:
        tally = asyncio.run(_lesson(url, args, seed))
    return tally, memory, time.monotonic() - started


@contextlib.contextmanager
def classroom(replicas: int):
    port = free_port()
    env = dict(os.environ, REPLICAS=str(replicas), PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", "deploy.classroom"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        for line in process.stdout:
            if "ready http://" in line:
                break
            if "did not start" in line or "exited" in line:
                raise RuntimeError(line)
        threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def _spread(values: list[float]) -> str:
    """median | 95th percentile | worst, in seconds."""
    if not values:
        return "– | – | –"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{statistics.median(ordered):.2f} | {p95:.2f} | {ordered[-1]:.2f}"


def _row(name: str, tally: Tally, memory: Memory, seconds: float) -> str:
    reruns = tally.reruns
    tail = memory.samples[-10:] or [0.0]
    return (
        f"| {name} | {len(reruns)} | {_spread(tally.charts)} | {_spread(reruns)} | "
        f"{len(tally.errors)} | "
        f"{len(reruns) / seconds:.1f} | {1e3 * memory.cpu_seconds / max(1, len(reruns)):.0f} | "
        f"{len(tally.settings)} | {memory.peak:.0f} | "
        f"{max(tail) - min(tail):.0f} |"
    )


def _timeline(name: str, tally: Tally, memory: Memory) -> str:
    """One line: the resident set every 10 s, each with the distinct settings
    asked for by then ("1210 MB @ 180")."""
    points = []
    for when, rss in list(zip(memory.times, memory.samples, strict=True))[9::10]:
        asked = sum(1 for t in tally.first_asked if t <= when)
        points.append(f"{rss:.0f} @ {asked}")
    return f"- {name}: " + ", ".join(points)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--pause", type=float, default=3.0, help="mean seconds between moves")
    parser.add_argument("--timeout", type=float, default=30.0, help="a rerun slower is an error")
    parser.add_argument("--replicas", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "classroom.md")
    parser.add_argument(
        "--servers",
        default="one,classroom",
        help="which to load, comma-separated: one (one process), classroom (make classroom)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="sample the one-process server with py-spy during its load; write its stacks here",
    )
    args = parser.parse_args(argv)
    if not (1 <= args.students <= 200 and 1 <= args.seconds <= 900):
        parser.error("--students 1…200 and --seconds 1…900 keep the load bounded")

    servers = set(args.servers.split(","))
    if not servers or servers - {"one", "classroom"}:
        parser.error("--servers takes one, classroom or both")
    rows, errors, timelines, profile = [], [], [], []
    if "one" in servers:
        with streamlit_server() as url:
            server = int(url.rsplit(":", 1)[1])
            pid = _listening_pid(server)
            with _sampled(pid, args.profile, args.seconds) as profile:
                tally, memory, seconds = _run(url, lambda: _children(pid), args, seed=1)
            rows.append(_row("one process", tally, memory, seconds))
            timelines.append(_timeline("one process", tally, memory))
            errors += tally.errors[:5]
    if "classroom" in servers:
        with classroom(args.replicas) as (url, pid):
            tally, memory, seconds = _run(url, lambda: _children(pid), args, seed=1)
            name = f"make classroom ({args.replicas} replicas)"
            rows.append(_row(name, tally, memory, seconds))
            timelines.append(_timeline(name, tally, memory))
            errors += tally.errors[:5]
    report = "\n".join(
        [
            f"# Classroom load: {args.students} students, a move every ~{args.pause:g} s, "
            f"{args.seconds:g} s, {os.cpu_count()} cores",
            "",
            "| server | reruns | chart redrawn: median s | p95 s | worst s | "
            "whole rerun: median s | p95 s | worst s | errors | reruns/s | "
            "server CPU per rerun ms | distinct settings | peak RSS MB | "
            "RSS change, last 10 s MB |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: | ---: | ---: |",
            *rows,
            "",
            "Targets: p95 ≤ 1 s and 0 errors through make classroom; RSS ≤ 2 GB.",
            "",
            "Resident memory of all the server's processes (MB) every 10 s, and the "
            "distinct settings asked for by then:",
            "",
            *timelines,
            *(["", "First errors:", *(f"- {e}" for e in errors)] if errors else []),
            *([] if args.profile is None else ["", *profile]),
        ]
    )
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report + "\n")
    return 0


@contextlib.contextmanager
def _sampled(pid: int, out: Path | None, seconds: float):
    """py-spy samples ``pid``'s busy threads 100 times a second while the body
    runs; afterwards the list it yields holds a Markdown table of where the
    server's busy time went, function by function."""
    summary: list[str] = []
    if out is None:
        yield summary
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    command = [
        str(spy),
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--function",
        "--nonblocking",
    ]
    command += ["--duration", str(int(seconds) + 5), "--rate", "100", "--output", str(out)]
    sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield summary
    finally:
        sampler.send_signal(signal.SIGINT)  # py-spy writes what it has and stops
        sampler.wait(timeout=60)
    summary += _profile_table(out)


def _profile_table(path: Path, rows: int = 30) -> list[str]:
    """The functions on the stack in most of py-spy's collapsed stacks at
    ``path`` (busy samples only: py-spy leaves out idle threads): the app's,
    the engine's, Plotly's and the busiest of Streamlit's own."""
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        for frame in set(stack.split(";")):
            inclusive[frame] = inclusive.get(frame, 0) + int(count)
    table = [
        f"Where the one process's busy time went (py-spy, {total} samples of busy threads; "
        "a function's share of the samples in which it was on the stack):",
        "",
        "| function | share |",
        "| --- | ---: |",
    ]
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])
    for frame, count in ranked[:rows]:
        table.append(f"| `{frame}` | {100 * count / max(total, 1):.0f} % |")
    return table


def _listening_pid(port: int) -> int:
    """The pid of the process listening on 127.0.0.1:``port`` (from /proc)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if int(parts[1].split(":")[1], 16) == port and parts[3] == "0A":
            inode = parts[9]
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        with contextlib.suppress(OSError):
            if os.readlink(fd) == f"socket:[{inode}]":
                return int(fd.parent.parent.name)
    raise RuntimeError(f"no process listens on port {port}")


if __name__ == "__main__":
    sys.exit(main())
