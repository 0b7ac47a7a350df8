"""The committed JSON Schema, checked by an independent validator (Python jsonschema)."""
import glob
import json
import subprocess

import jsonschema
import pytest
import yaml

from conftest import ROOT, wsgate_binary

SCHEMA = json.loads((ROOT / "schemas" / "wsgate.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_committed_schema_is_what_wsgate_prints():
    printed = subprocess.run([wsgate_binary(), "schema"], capture_output=True, text=True, check=True).stdout
    assert json.loads(printed) == SCHEMA
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", sorted(glob.glob(str(ROOT / "examples" / "*.yaml")) + [str(ROOT / "scripts" / "autobahn.yaml")]))
def test_schema_accepts_every_example(path):
    errors = list(VALIDATOR.iter_errors(yaml.safe_load(open(path))))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("path", sorted(glob.glob(str(ROOT / "Tests" / "GatewayConfigTests" / "Corpus" / "*.yaml"))))
def test_schema_rejects_the_bad_corpus(path):
    text = open(path).read()
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return  # not YAML at all: nothing to validate
    accepted = not list(VALIDATOR.iter_errors(document))
    expected = "# schema: accepts" in text
    assert accepted == expected, f"{path}: schema {'accepted' if accepted else 'rejected'} it"
