"""hacheck-targets.yaml: the schema accepts the documented shapes, and every error names the
file, the line, the key path and what is allowed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hacheck.deploy.targets_file import TargetsError, load_targets, targets_schema
from tests.conftest import code_blocks

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """\
targets:
  prod:
    kind: node-red
    replicas:
      - http://127.0.0.1:1881
      - http://127.0.0.1:1882
    auth:
      token_env: NODE_RED_TOKEN
"""

FULL = """\
audit_log: audit/deploys.jsonl
targets:
  prod:
    kind: node-red
    description: the HA pair
    replicas: [https://nr-0.internal:1880, https://nr-1.internal:1880/admin]
    auth: {username_env: NR_USER, password_env: NR_PASSWORD}
    ca_file: certs/internal-ca.pem
    timeout: 20
    retries: 5
    backoff: 1
    verify:
      timeout: 90
      probes:
        - {path: /health, status: 200, contains: ok}
    audit_log: prod.jsonl
  ff-prod:
    kind: flowfuse
    url: https://app.flowfuse.com
    pipeline: p-123
    stage: s-dev
    instance: 9f0c-instance
    token_env: FLOWFUSE_TOKEN
    source_snapshot: snap-1
    verify: {timeout: 900, poll_interval: 10}
"""


def load(tmp_path, text: str):
    p = tmp_path / "hacheck-targets.yaml"
    p.write_text(text)
    return load_targets(str(p))


def error_of(tmp_path, text: str) -> str:
    with pytest.raises(TargetsError) as e:
        load(tmp_path, text)
    return str(e.value)


def test_the_documented_minimal_shape_loads(tmp_path):
    tf = load(tmp_path, MINIMAL)
    spec = tf.target("prod")
    assert spec.kind == "node-red"
    assert spec.settings["replicas"] == ["http://127.0.0.1:1881", "http://127.0.0.1:1882"]
    assert spec.settings["auth"] == {"token_env": "NODE_RED_TOKEN"}
    assert tf.audit_log is None


def test_every_key_of_both_kinds_loads_and_paths_are_relative_to_the_file(tmp_path):
    tf = load(tmp_path, FULL)
    assert set(tf.targets) == {"prod", "ff-prod"}
    spec = tf.target("prod")
    assert spec.path(spec.settings["ca_file"]) == str(tmp_path / "certs" / "internal-ca.pem")
    assert tf.target("ff-prod").settings["verify"] == {"timeout": 900, "poll_interval": 10}


def test_docs_example_is_valid(tmp_path):
    """The targets file of docs/deploy.md's complete example is the one users copy: it must load."""
    block = code_blocks(REPO / "docs" / "deploy.md", "yaml", "A complete example")[0]
    assert block.startswith("# where `hacheck deploy` may deploy")
    tf = load(tmp_path, block)
    assert set(tf.targets) == {"prod", "flowfuse-prod"}


@pytest.mark.parametrize("text, expected", [
    # unknown key: names it and lists the allowed ones
    (MINIMAL + "    colour: blue\n", [":9:", "targets.prod", "unknown key 'colour'", "allowed keys: kind, description, replicas, auth"]),
    # a misspelt kind
    (MINIMAL.replace("node-red", "nodered"), [":3:", "targets.prod.kind", "'nodered' is not allowed", "node-red, flowfuse"]),
    # a secret where an environment variable NAME belongs
    (MINIMAL.replace("NODE_RED_TOKEN", "'abc def-123'"), [":8:", "targets.prod.auth.token_env", "the NAME of an environment variable"]),
    # user:password in a URL would put a secret in the file
    (MINIMAL.replace("http://127.0.0.1:1882", "http://admin:pw@127.0.0.1:1882"), [":6:", "targets.prod.replicas[1]", "without user:password@"]),
    (MINIMAL.replace("http://127.0.0.1:1881", "ftp://127.0.0.1:1881"), [":5:", "targets.prod.replicas[0]", "http:// or https://"]),
    # both kinds of auth at once
    (MINIMAL + "      username_env: NR_USER\n      password_env: NR_PW\n", [":7:", "targets.prod.auth", "{token_env: NAME} or {username_env: NAME, password_env: NAME}"]),
    # a username without its password
    (MINIMAL.replace("token_env: NODE_RED_TOKEN", "username_env: NR_USER"), ["targets.prod.auth", "username_env"]),
    (MINIMAL.replace("    replicas:\n      - http://127.0.0.1:1881\n      - http://127.0.0.1:1882\n", ""), ["targets.prod", "missing key 'replicas'"]),
    ("targets:\n  prod:\n    kind: node-red\n    replicas: []\n", [":4:", "targets.prod.replicas", "[] is not allowed"]),
    (MINIMAL + "    timeout: fast\n", [":9:", "targets.prod.timeout", "expected a number", "seconds for one HTTP request"]),
    (MINIMAL + "    retries: 50\n", ["targets.prod.retries", "50 is not allowed", "0 to 10"]),
    (MINIMAL + "    verify_tls: 'no'\n", ["targets.prod.verify_tls", "expected true or false"]),
    (MINIMAL + "    verify:\n      probes: [{path: health}]\n", ["targets.prod.verify.probes[0].path", "starting with '/'"]),
    ("targets:\n  ff:\n    kind: flowfuse\n    url: https://app.flowfuse.com\n", ["targets.ff", "missing key 'pipeline'"]),
    ("targts:\n  prod: {}\n", [":1:", "unknown key 'targts'", "allowed keys: audit_log, targets"]),
    ("targets:\n  'bad name!':\n    kind: node-red\n", [":2:", "target name 'bad name!' is not allowed", "letters, digits"]),
    ("targets: [prod]\n", [":1:", "targets", "expected a mapping"]),
])
def test_schema_errors_name_file_line_key_and_what_is_allowed(tmp_path, text, expected):
    msg = error_of(tmp_path, text)
    assert "hacheck-targets.yaml" in msg
    for part in expected:
        assert part in msg, (part, msg)


def test_yaml_syntax_errors_and_duplicates(tmp_path):
    assert ":3: not valid YAML: mapping values are not allowed" in error_of(tmp_path, "targets:\n  prod:\n    kind: a: b\n")
    msg = error_of(tmp_path, MINIMAL + "  prod:\n    kind: node-red\n")
    assert "not valid YAML" in msg and "duplicate" in msg.lower()
    assert "is empty" in error_of(tmp_path, "")


def test_missing_file_and_unknown_target(tmp_path):
    with pytest.raises(TargetsError, match="no such targets file"):
        load_targets(str(tmp_path / "nope.yaml"))
    tf = load(tmp_path, MINIMAL)
    with pytest.raises(TargetsError, match=r"no target 'staging'; the targets are: prod"):
        tf.target("staging")


def test_schema_forbids_unknown_keys_everywhere():
    """additionalProperties is false on every object in the schema, so a typo is never ignored."""
    def objects(node, path="$"):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                yield path, node
            for k, v in node.items():
                yield from objects(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from objects(v, f"{path}[{i}]")

    found = list(objects(targets_schema()))
    assert len(found) >= 6
    for path, node in found:
        if path.endswith("$defs.target"):
            continue  # dispatches on kind; each kind's own schema closes the object
        assert node.get("additionalProperties") is False, path


def test_cli_reports_a_bad_targets_file_with_exit_2_and_no_traceback(tmp_path):
    (tmp_path / "hacheck-targets.yaml").write_text(MINIMAL + "    colour: blue\n")
    flows = tmp_path / "flows.json"
    flows.write_text(json.dumps([{"id": "t", "type": "tab"}]))
    p = subprocess.run([sys.executable, "-m", "hacheck", "deploy", str(flows), "--target", "prod"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert "hacheck: error: invalid targets file" in p.stderr and "unknown key 'colour'" in p.stderr
    assert "Traceback" not in p.stderr
