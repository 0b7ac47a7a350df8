"""`wsgate test --url`: conversation files held with a running `wsgate serve` over ws:// and wss://."""
import subprocess

from conftest import ROOT, throwaway_certificate, wsgate_binary

CONVERSATIONS = "Tests/e2e/conversations"
ECHO_FILES = ["examples/tests/echo.test.yaml", "examples/tests/echo-refusals.test.yaml"]


def wsgate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([wsgate_binary(), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_conversations_pass_against_a_running_deployment(gateway_factory):
    gateway = gateway_factory("examples/echo.yaml")
    run = wsgate("test", "--url", f"ws://127.0.0.1:{gateway.port}", *ECHO_FILES)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == "2 passed, 0 failed"
    # The deployment saw the conversations: the log names the endpoint and the refused path.
    assert "/echo" in gateway.log()


def test_rooms_keep_running_between_conversations_of_a_deployment(gateway_factory):
    gateway = gateway_factory("examples/chat.yaml")
    run = wsgate("test", "--url", f"ws://127.0.0.1:{gateway.port}/", "examples/tests/chat.test.yaml")
    assert run.returncode == 0, run.stdout + run.stderr
    # A second run meets the names counter where the first left it: nothing starts afresh.
    again = wsgate("test", "--url", f"ws://127.0.0.1:{gateway.port}", "examples/tests/chat.test.yaml")
    assert again.returncode == 1
    assert "You've logged in as [user" in again.stdout


def test_failures_against_a_deployment_are_reported_like_in_process(gateway_factory):
    gateway = gateway_factory("examples/echo.yaml")
    run = wsgate("test", "--url", f"ws://127.0.0.1:{gateway.port}", CONVERSATIONS)
    assert run.returncode == 1, run.stdout + run.stderr
    assert (
        f"      {CONVERSATIONS}/wrong-expectation.test.yaml:6:5: step 3 (expect)\n"
        '        expected: text "Hello, JetBrains!"\n'
        '        actual:   text "Hi, JetBrains!"\n' in run.stdout
    )
    assert (
        f"      {CONVERSATIONS}/unexpected-close.test.yaml:6:5: step 3 (expect)\n"
        '        expected: text "Hi, bye!"\n'
        '        actual:   close 1000 "Client said BYE"\n' in run.stdout
    )
    assert run.stdout.splitlines()[-1] == "1 passed, 4 failed"


def test_a_refused_handshake_is_reported_with_its_status(gateway_factory, tmp_path):
    gateway = gateway_factory("examples/echo.yaml")
    conversation = tmp_path / "wrong-status.test.yaml"
    conversation.write_text("name: wrong status\nendpoint: /nowhere\nsteps:\n  - expect_status: 403\n")
    run = wsgate("test", "--url", f"ws://127.0.0.1:{gateway.port}", str(conversation))
    assert run.returncode == 1
    assert "expected: the handshake refused with HTTP 403\n        actual:   HTTP 404" in run.stdout, run.stdout


def test_wss_deployment_with_a_private_ca(gateway_factory, tmp_path):
    throwaway_certificate(tmp_path)
    config = tmp_path / "tls.yaml"
    config.write_text(
        "version: 1\n"
        "server:\n"
        "  tls: { certificate: tls.crt, private_key: tls.key }\n"
        "endpoints:\n"
        "  - path: /echo\n"
        "    type: echo\n"
        "    greeting: Please enter your name\n"
        "    reply: \"Hi, {message}!\"\n"
        "    bye: { text: bye, ignore_case: true, reason: Client said BYE }\n"
    )
    gateway = gateway_factory(str(config))
    url = f"wss://localhost:{gateway.port}"
    run = wsgate("test", "--url", url, "--ca-file", str(tmp_path / "tls.crt"), "examples/tests/echo.test.yaml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == "1 passed, 0 failed"
    # Verification is on by default: the throwaway certificate is not among the system's roots.
    untrusted = wsgate("test", "--url", url, "examples/tests/echo.test.yaml")
    assert untrusted.returncode == 1
    assert "cannot connect" in untrusted.stdout and "certificate" in untrusted.stdout.lower(), untrusted.stdout


def test_an_unreachable_deployment_fails_every_conversation(tmp_path):
    from conftest import free_port

    run = wsgate("test", "--url", f"ws://127.0.0.1:{free_port()}", "examples/tests/echo.test.yaml")
    assert run.returncode == 1
    assert "cannot connect" in run.stdout and "check the host, the port and that the server runs" in run.stdout
    assert run.stdout.splitlines()[-1] == "0 passed, 1 failed"


def test_url_usage_errors():
    both = wsgate("test", "--url", "ws://127.0.0.1:1", "--config", "examples/echo.yaml", ECHO_FILES[0])
    assert both.returncode == 64 and "--url and --config exclude each other" in both.stderr
    bad = wsgate("test", "--url", "ftp://example.com", ECHO_FILES[0])
    assert bad.returncode == 64 and "is not a WebSocket URL" in bad.stderr
    stray = wsgate("test", "--ca-file", "x.pem", "--config", "examples/echo.yaml", ECHO_FILES[0])
    assert stray.returncode == 64 and "--ca-file is for a wss:// --url" in stray.stderr
