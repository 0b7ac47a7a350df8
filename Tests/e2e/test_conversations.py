"""`wsgate test`: conversation files run by the real binary; exit code, report text and JUnit XML."""
import glob
import json
import subprocess
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import yaml

from conftest import ROOT, wsgate_binary

CONVERSATIONS = "Tests/e2e/conversations"
SCHEMA = json.loads((ROOT / "schemas" / "wsgate-test.schema.json").read_text())


def wsgate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([wsgate_binary(), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("example", ["echo", "chat", "rooms", "process"])
def test_every_example_conversation_passes(example):
    files = sorted(glob.glob(f"examples/tests/{example}*.test.yaml", root_dir=ROOT))
    run = wsgate("test", "--config", f"examples/{example}.yaml", *files)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == f"{len(files)} passed, 0 failed"
    assert all(line.startswith("ok    ") for line in run.stdout.splitlines()[:-2])


def test_failing_conversations_are_reported_with_file_line_expected_and_actual(tmp_path):
    junit = tmp_path / "junit.xml"
    run = wsgate("test", "--config", "examples/echo.yaml", CONVERSATIONS, "--junit", str(junit))
    assert run.returncode == 1, run.stdout + run.stderr
    report = run.stdout
    assert f"ok    {CONVERSATIONS}/passing.test.yaml: the echo greets (" in report
    assert (
        f"FAIL  {CONVERSATIONS}/wrong-expectation.test.yaml: a wrong expectation (" in report
        and f"      {CONVERSATIONS}/wrong-expectation.test.yaml:6:5: step 3 (expect)\n"
        '        expected: text "Hello, JetBrains!"\n'
        '        actual:   text "Hi, JetBrains!"\n' in report
    )
    assert (
        f"      {CONVERSATIONS}/timeout.test.yaml:6:5: step 2 (expect)\n"
        '        expected: text "anything else"\n'
        "        actual:   nothing within 300ms (the step's timeout; set 'timeout:' on the step or the file to wait longer)\n"
        in report
    )
    assert (
        f"      {CONVERSATIONS}/unexpected-close.test.yaml:6:5: step 3 (expect)\n"
        '        expected: text "Hi, bye!"\n'
        '        actual:   close 1000 "Client said BYE"\n' in report
    )
    assert (
        f"      {CONVERSATIONS}/invalid.test.yaml:5:5: invalid conversation file (2 problems)\n"
        f"        {CONVERSATIONS}/invalid.test.yaml:5:5: error: unknown key 'sned' in steps[1]: neither a step nor a client; did you mean 'send'?\n"
        in report
    )
    assert report.splitlines()[-1] == "1 passed, 4 failed"

    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuites"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "3", "1")
    cases = {case.get("file").rsplit("/", 1)[-1]: case for case in suite.iter("testcase")}
    assert cases["passing.test.yaml"].find("failure") is None
    assert cases["passing.test.yaml"].get("name") == "the echo greets"
    failure = cases["wrong-expectation.test.yaml"].find("failure")
    assert failure.get("message") == 'step 3 (expect): expected text "Hello, JetBrains!", got text "Hi, JetBrains!"'
    assert failure.text.startswith(f"{CONVERSATIONS}/wrong-expectation.test.yaml:6:5: step 3 (expect)\n")
    assert "got nothing within 300ms" in cases["timeout.test.yaml"].find("failure").get("message")
    assert 'got close 1000 "Client said BYE"' in cases["unexpected-close.test.yaml"].find("failure").get("message")
    assert cases["invalid.test.yaml"].find("error").get("type") == "invalid"


def test_an_invalid_configuration_runs_nothing(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("version: 1\nendpoints:\n  - { path: /echo, type: ecko }\n")
    run = wsgate("test", "--config", str(config), f"{CONVERSATIONS}/passing.test.yaml")
    assert run.returncode == 1
    assert "bad.yaml:3:26: error: endpoints[0].type 'ecko' is not an endpoint type" in run.stderr
    assert run.stdout == ""


def test_no_conversation_files_is_a_usage_error():
    run = wsgate("test", "--config", "examples/echo.yaml")
    assert run.returncode == 64  # swift-argument-parser's usage error (EX_USAGE)
    assert "Missing expected argument '<conversations> ...'" in run.stderr


def test_validate_recognises_conversation_files():
    run = wsgate("validate", "examples/echo.yaml", "examples/tests/echo.test.yaml")
    assert run.returncode == 0, run.stderr
    assert "examples/tests/echo.test.yaml: valid (a conversation of 5 steps)" in run.stdout
    run = wsgate("validate", f"{CONVERSATIONS}/invalid.test.yaml")
    assert run.returncode == 1
    assert f"{CONVERSATIONS}/invalid.test.yaml:6:20: error: 101 is an accepted handshake" in run.stderr


def test_committed_conversation_schema_is_what_wsgate_prints():
    printed = wsgate("schema", "--conversation").stdout
    assert json.loads(printed) == SCHEMA
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize(
    "path", sorted(glob.glob(str(ROOT / "examples" / "tests" / "*.yaml")) + glob.glob(str(ROOT / CONVERSATIONS / "*.yaml")))
)
def test_conversation_schema_accepts_the_files_wsgate_accepts(path):
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(yaml.safe_load(open(path))))
    if path.endswith("invalid.test.yaml"):
        assert errors
    else:
        assert not errors, [e.message for e in errors]
