"""`wsgate bench` in each mode against a real `wsgate serve`, for a second or two each: the JSON
report has the fields scripts rely on, and the counts add up."""
import json
import subprocess

import pytest

from conftest import throwaway_certificate, wsgate_binary

COMMON_FIELDS = {
    "mode", "url", "connections", "in_flight", "size", "binary", "deflate", "deflate_negotiated", "threads",
    "seconds", "unit", "count", "per_second", "bytes_per_second", "sent", "failed", "closed_by_server", "latency",
    "errors",
}
LATENCY_FIELDS = {"samples", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms"}


def bench(url: str, *options: str) -> dict:
    result = subprocess.run(
        [wsgate_binary(), "bench", url, "--json", *options], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert COMMON_FIELDS <= set(report), COMMON_FIELDS - set(report)
    assert set(report["latency"]) == LATENCY_FIELDS
    assert report["failed"] == 0 and report["errors"] == []
    return report


@pytest.fixture
def gateway(gateway_factory):
    return gateway_factory("Tests/e2e/bench.yaml")


@pytest.mark.parametrize("options", [[], ["--binary", "--size", "16KiB"], ["--deflate", "--size", "4KiB"]])
def test_echo(gateway, options):
    report = bench(gateway.url("/echo"), "--connections", "4", "--in-flight", "4", "--duration", "1s", *options)
    assert report["mode"] == "echo" and report["unit"] == "messages"
    assert report["count"] > 100 and report["count"] == report["sent"] == report["latency"]["samples"]
    assert report["deflate_negotiated"] == ("--deflate" in options)
    assert 0 < report["latency"]["p50_ms"] <= report["latency"]["p99_ms"] <= report["latency"]["max_ms"]
    assert report["seconds"] < 3


def test_echo_stops_at_the_message_budget(gateway):
    report = bench(gateway.url("/echo"), "--connections", "2", "--messages", "300", "--duration", "10s")
    assert report["count"] == 300


def test_broadcast(gateway):
    report = bench(
        gateway.url("/room"), "--mode", "broadcast", "--connections", "50", "--messages", "100", "--duration", "5s"
    )
    assert report["unit"] == "deliveries"
    # Every member, the publisher included, gets every message despite the room's welcome line.
    assert report["count"] == 50 * 100 and report["sent"] == 100


def test_connect_through_a_process(gateway):
    report = bench(gateway.url("/cat"), "--mode", "connect", "--connections", "4", "--messages", "40")
    assert report["unit"] == "sessions" and report["count"] == 40


def test_idle(gateway):
    report = bench(gateway.url("/echo"), "--mode", "idle", "--connections", "200", "--duration", "1s")
    assert report["unit"] == "connections" and report["count"] == 200
    assert report["closed_by_server"] == 0 and report["latency"]["samples"] == 200


def test_refused_deflate_and_bad_options_fail_with_a_reason(gateway_factory):
    gateway = gateway_factory("Tests/e2e/nodeflate.yaml")
    result = subprocess.run(
        [wsgate_binary(), "bench", gateway.url("/"), "--deflate", "--duration", "1s"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    assert "did not agree to permessage-deflate" in result.stderr
    usage = subprocess.run([wsgate_binary(), "bench", "http://x/", "--mode", "echo"], capture_output=True, text=True)
    assert usage.returncode == 64 and "ws://" in usage.stderr


def test_echo_over_wss_verifies_the_certificate(gateway_factory, tmp_path):
    throwaway_certificate(tmp_path)
    config = tmp_path / "tls.yaml"
    config.write_text(
        "version: 1\nserver: { tls: { certificate: tls.crt, private_key: tls.key } }\n"
        "defaults: { ping_period: 0 }\nendpoints:\n  - { path: /echo, type: echo }\n"
    )
    gateway = gateway_factory(str(config))
    url = f"wss://localhost:{gateway.port}/echo"
    options = ["--connections", "2", "--in-flight", "2", "--duration", "1s"]
    report = bench(url, "--ca-file", str(tmp_path / "tls.crt"), *options, "--deflate")
    assert report["url"] == url and report["count"] > 50 and report["deflate_negotiated"]
    # Verification is on by default: the throwaway certificate is not among the system's roots.
    untrusted = subprocess.run(
        [wsgate_binary(), "bench", url, *options], capture_output=True, text=True, timeout=30
    )
    assert untrusted.returncode == 1 and "certificate" in untrusted.stderr.lower(), untrusted.stderr
