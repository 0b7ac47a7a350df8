"""Helpers the benchmark scripts share: ports, waiting for a server, a process's CPU time."""
import os
import pathlib
import socket
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float = 20) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latency(figures: dict, which: str) -> float:
    """A latency percentile in ms (`which`: p50, p99, p999) from a Go client's JSON (top-level `p99_ms`)
    or `wsgate bench --json` (`latency.p99_ms`); 0 when the report has none."""
    if f"{which}_ms" in figures:
        return figures[f"{which}_ms"]
    return (figures.get("latency") or {}).get(f"{which}_ms") or 0.0


def latencies(figures_list) -> str:
    """'p50 a / p99 b / p99.9 c ms': the medians over runs of each run's percentiles."""
    import statistics

    parts = [
        f"{label} {statistics.median(latency(figures, which) for figures in figures_list):.2f}"
        for which, label in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9"))
    ]
    return " / ".join(parts) + " ms"


ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = ROOT / ".build" / "bench"
_GORILLA = pathlib.Path("/usr/share/gocode/src/github.com/gorilla/websocket")


def ensure_go_tools(extra_packages=()):
    """Installs Debian's Go toolchain and gorilla/websocket (plus `extra_packages`, binary -> package)
    when missing."""
    import shutil
    import subprocess

    wanted = {"go": "golang-go", **dict(extra_packages)}
    missing = [package for binary, package in wanted.items() if not shutil.which(binary)]
    if not _GORILLA.exists():
        missing.append("golang-github-gorilla-websocket-dev")
    if missing:
        print(f"installing {' '.join(missing)}", file=__import__("sys").stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", *missing],
            check=True,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
        )


def build_go(folder: str, names) -> None:
    """Builds the Go programs `names` under Benchmarks/`folder` into .build/bench/."""
    import subprocess

    BUILD.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=str(BUILD / "gocache"))
    for name in names:
        subprocess.run(
            ["go", "build", "-o", str(BUILD / name), f"./{name}"], cwd=ROOT / "Benchmarks" / folder, env=env, check=True
        )


def release_wsgate() -> pathlib.Path:
    """The release build of wsgate, built when missing."""
    import subprocess

    wsgate = ROOT / ".build" / "release" / "wsgate"
    if not wsgate.exists():
        subprocess.run(["swift", "build", "-c", "release", "--product", "wsgate"], cwd=ROOT, check=True)
    return wsgate
