#!/usr/bin/env python3
"""Echo through `type: proxy` against nginx proxying the same upstream (Debian's nginx).

The upstream is a wsgate `type: echo` endpoint (release build); both proxies forward to it, and
`wsgate bench --mode echo` loads each proxy in turn (runs alternate). Reports messages/s and messages per
second of the proxy's own CPU (utime + stime from /proc, workers included), medians of --runs.

  python3 Benchmarks/proxy.py [--runs 3] [--seconds 10] [--size 64]
"""
import argparse
import json
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile

from benchlib import ROOT, cpu_seconds, free_port, latencies, release_wsgate, wait_for_port


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (nginx's workers)."""
    total = cpu_seconds(pid)
    children = pathlib.Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        try:
            total += cpu_seconds(int(child))
        except FileNotFoundError:
            pass
    return total


def bench(wsgate, url, seconds, size, connections, in_flight):
    out = subprocess.run(
        [str(wsgate), "bench", url, "--mode", "echo", "--connections", str(connections), "--in-flight",
         str(in_flight), "--size", str(size), "--duration", f"{seconds}s", "--messages", "100000000", "--json"],
        capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--in-flight", type=int, default=8)
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    wsgate = release_wsgate()
    work = pathlib.Path(tempfile.mkdtemp(prefix="wsgate-proxy-bench-"))
    upstream_port, gateway_port, nginx_port = free_port(), free_port(), free_port()
    (work / "upstream.yaml").write_text(
        "version: 1\nserver: {health_path: null, metrics_path: null}\n"
        "defaults: {ping_period: 0, extensions: {permessage-deflate: null}}\n"
        "endpoints:\n  - {path: /echo, type: echo}\n")
    (work / "proxy.yaml").write_text(
        "version: 1\nserver: {health_path: null, metrics_path: null}\n"
        "defaults: {ping_period: 0, extensions: {permessage-deflate: null}}\n"
        f"endpoints:\n  - {{path: /echo, type: proxy, upstream: 'ws://127.0.0.1:{upstream_port}/echo'}}\n")
    (work / "nginx.conf").write_text(f"""daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
  uwsgi_temp_path {work}; scgi_temp_path {work};
  server {{
    listen 127.0.0.1:{nginx_port};
    location /echo {{
      proxy_pass http://127.0.0.1:{upstream_port};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 1h;
    }}
  }}
}}
""")
    upstream = subprocess.Popen([str(wsgate), "serve", str(work / "upstream.yaml"), "--listen",
                                 f"127.0.0.1:{upstream_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(upstream_port)
    results = {"wsgate proxy": [], "nginx": []}
    try:
        for _ in range(args.runs):
            for name in ("wsgate proxy", "nginx"):
                if name == "nginx":
                    server = subprocess.Popen([nginx, "-c", str(work / "nginx.conf")], stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)
                    port = nginx_port
                else:
                    server = subprocess.Popen([str(wsgate), "serve", str(work / "proxy.yaml"), "--listen",
                                               f"127.0.0.1:{gateway_port}"], stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)
                    port = gateway_port
                wait_for_port(port)
                before = tree_cpu(server.pid)
                report = bench(wsgate, f"ws://127.0.0.1:{port}/echo", args.seconds, args.size, args.connections,
                               args.in_flight)
                cpu = tree_cpu(server.pid) - before
                if report["failed"]:
                    raise SystemExit(f"{name}: {report['failed']} connections failed: {report['errors']}")
                rate = report["per_second"]
                results[name].append({"msgs_per_s": rate, "per_cpu_s": report["count"] / cpu if cpu > 0 else 0,
                                      "latency": report["latency"]})
                server.terminate()
                server.wait(timeout=15)
    finally:
        upstream.terminate()
        upstream.wait(timeout=15)
    for name, runs in results.items():
        rates = [r["msgs_per_s"] for r in runs]
        per_cpu = [r["per_cpu_s"] for r in runs]
        print(f"{name:13} {statistics.median(rates):>10.0f} msgs/s ({min(rates):.0f}–{max(rates):.0f}), "
              f"{statistics.median(per_cpu):>10.0f} msgs per proxy CPU-s, {latencies(runs)}")
    print(json.dumps(results))


if __name__ == "__main__":
    sys.exit(main())
