"""Configuration: discovery, pyproject, presets, precedence, every key, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from hacheck.engine.catalog import load_catalog
from hacheck.commands.cli import cli
from hacheck.model.config import Config, glob_regex
from hacheck.config.files import KEYS, ConfigError, load_config, preset
from tests.conftest import code_blocks

REPO = Path(__file__).resolve().parents[1]

# HA101 (error) on node "m", HA102 (warning) on node "dyn": both reach the publish "act"
FLOW = [
    {"id": "t", "type": "tab", "label": "Ingest"},
    {"id": "b", "type": "mqtt-broker", "broker": "mqtt.example", "clientid": ""},
    {"id": "m", "type": "mqtt in", "z": "t", "name": "jobs", "topic": "jobs/#", "broker": "b", "inputs": 0, "x": 100, "y": 40, "wires": [["act"]]},
    {"id": "dyn", "type": "mqtt in", "z": "t", "name": "dyn", "topic": "", "broker": "b", "inputs": 1, "x": 100, "y": 80, "wires": [["act"]]},
    {"id": "act", "type": "mqtt out", "z": "t", "name": "command", "topic": "plant/cmd", "broker": "b", "x": 500, "y": 40, "wires": []},
]


def write_flow(path: Path, nodes=FLOW) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nodes, indent=1), "utf-8")
    return path


def run(monkeypatch, cwd: Path, *args: str):
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def rules_of(result) -> list[tuple[str, str, str | None]]:
    """(rule, node, suppression kind) of each finding in a JSON run."""
    doc = json.loads(result.stdout)
    return [(f["rule"], f["node"], f["suppressed"] and f["suppressed"]["kind"]) for f in doc["findings"]]


def shown(monkeypatch, cwd: Path, *args: str) -> dict:
    r = run(monkeypatch, cwd, "config", "show", "-f", "json", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["values"]


pytestmark = pytest.mark.usefixtures("own_cache")


# --- presets -------------------------------------------------------------------------------------


def test_default_preset_equals_the_built_in_defaults():
    # a run without a config file uses Config() and never reads the preset: they must agree
    data = preset("default")
    assert set(data) == set(KEYS) - {"extends"}
    cfg = Config()
    for key, value in data.items():
        got = getattr(cfg, key)
        assert (list(got) if isinstance(got, tuple) else got) == value, key


def test_every_config_key_is_a_config_field():
    assert set(KEYS) <= {f.name for f in fields(Config)}


def test_strict_preset_lowers_the_threshold_and_runs_preview_rules(repo, monkeypatch):
    (repo / ".hacheck.yaml").write_text("extends: strict\n")
    v = shown(monkeypatch, repo)
    assert v["extends"] == {"value": "strict", "origin": ".hacheck.yaml"}
    assert v["fail_on"] == {"value": "info", "origin": "preset strict"}
    assert v["preview"] == {"value": True, "origin": "preset strict"}
    assert v["persistent_context_stores"] == {"value": ["persistent", "file", "localfilesystem", "disk"], "origin": "preset default"}


# --- discovery ----------------------------------------------------------------------------------


def test_config_is_found_upward_from_the_checked_files(repo, monkeypatch):
    write_flow(repo / "proj" / "a" / "b" / "flows.json")
    (repo / "proj" / ".hacheck.yaml").write_text("fail_on: never\n")
    # from outside the project, naming a deep file; and from a deep folder, naming "."
    r = run(monkeypatch, repo, "check", "proj/a/b/flows.json")
    assert r.exit_code == 0, r.output
    r = run(monkeypatch, repo / "proj" / "a" / "b", "check", ".")
    assert r.exit_code == 0, r.output
    # the same flow without the config fails: the config is what made the difference
    (repo / "proj" / ".hacheck.yaml").unlink()
    assert run(monkeypatch, repo, "check", "proj/a/b/flows.json").exit_code == 1


def test_discovery_stops_at_the_repository_root(tmp_path, monkeypatch):
    (tmp_path / ".hacheck.yaml").write_text("fail_on: never\n")
    inner = tmp_path / "repo"
    (inner / ".git").mkdir(parents=True)
    write_flow(inner / "flows.json")
    assert run(monkeypatch, inner, "check", ".").exit_code == 1
    assert shown(monkeypatch, inner)["fail_on"]["origin"] == "preset default"


def test_pyproject_tool_table_is_a_config(repo, monkeypatch):
    write_flow(repo / "flows.json")
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.hacheck]\nfail_on = "never"\nignore = ["HA102"]\n')
    r = run(monkeypatch, repo, "check", "-f", "json", ".")
    assert r.exit_code == 0, r.output
    assert {x[0] for x in rules_of(r)} == {"HA101"}
    v = shown(monkeypatch, repo)
    assert v["fail_on"] == {"value": "never", "origin": "pyproject.toml [tool.hacheck]"}


def test_pyproject_without_tool_table_is_passed_over(repo, monkeypatch):
    write_flow(repo / "sub" / "flows.json")
    (repo / "sub" / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.ruff]\nline-length = 100\n')
    (repo / ".hacheck.yaml").write_text("fail_on: never\n")
    origin = shown(monkeypatch, repo / "sub")["fail_on"]["origin"]
    assert Path(origin).resolve() == (repo / ".hacheck.yaml").resolve()
    assert run(monkeypatch, repo / "sub", "check", ".").exit_code == 0


def test_hacheck_yaml_wins_over_pyproject_in_the_same_folder(repo, monkeypatch):
    (repo / "pyproject.toml").write_text('[tool.hacheck]\nfail_on = "error"\n')
    (repo / ".hacheck.yml").write_text("fail_on: info\n")
    assert shown(monkeypatch, repo)["fail_on"] == {"value": "info", "origin": ".hacheck.yml"}


def test_explicit_config_file_replaces_discovery(repo, monkeypatch):
    write_flow(repo / "flows.json")
    (repo / ".hacheck.yaml").write_text("fail_on: error\n")
    (repo / "ci.yaml").write_text("fail_on: never\n")
    (repo / "tool.toml").write_text('[tool.hacheck]\nfail_on = "info"\n')
    assert shown(monkeypatch, repo, "--config", "ci.yaml")["fail_on"] == {"value": "never", "origin": "ci.yaml"}
    assert shown(monkeypatch, repo, "--config", "tool.toml")["fail_on"] == {"value": "info", "origin": "tool.toml [tool.hacheck]"}
    assert run(monkeypatch, repo, "check", "--config", "ci.yaml", ".").exit_code == 0


def test_paths_with_different_config_files_are_an_error(repo, monkeypatch):
    write_flow(repo / "a" / "flows.json")
    write_flow(repo / "b" / "flows.json")
    (repo / "a" / ".hacheck.yaml").write_text("fail_on: never\n")
    (repo / "b" / ".hacheck.yaml").write_text("fail_on: never\n")
    r = run(monkeypatch, repo, "check", "a", "b")
    assert r.exit_code == 2
    assert "different configuration files" in r.stderr and "--config" in r.stderr


def test_no_yaml_or_jsonschema_import_without_a_config_file(repo):
    # start-up cost: a run without configuration must not pay for YAML or schema validation
    code = (
        "import sys; from hacheck.config.files import load_config; c = load_config(['.']);"
        "print(json.dumps([c.fail_on, 'ruamel' in sys.modules, 'jsonschema' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", "import json;" + code], cwd=repo, capture_output=True, text=True, check=True, env={"PYTHONPATH": str(REPO)})
    assert json.loads(out.stdout) == ["warning", False, False]


def test_a_validated_config_is_cached_and_a_changed_one_checked_again(repo, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cfgcache")
    (repo / ".hacheck.yaml").write_text("extends: strict\nfail_on: error\n")
    code = (
        "import json, sys; from hacheck.config.files import load_config, ConfigError\n"
        "try:\n    c = load_config(['.']); out = [c.fail_on, c.preview]\n"
        "except ConfigError as e:\n    out = [str(e)]\n"
        "print(json.dumps(out + ['ruamel' in sys.modules, 'jsonschema' in sys.modules]))"
    )

    def load():
        env = {"PYTHONPATH": str(REPO), "HACHECK_CACHE_DIR": str(cache)}
        return json.loads(subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True, env=env).stdout)

    assert load() == ["error", True, True, True]  # first time: parsed and validated
    assert load() == ["error", True, False, False]  # then from the cache
    (repo / ".hacheck.yaml").write_text("extends: strict\nfail_on: sometimes\n")
    assert load()[0].startswith(".hacheck.yaml:2: fail_on: \"sometimes\" is not allowed")
    for f in cache.iterdir():  # a damaged cache is only a miss
        f.write_text("{not json")
    (repo / ".hacheck.yaml").write_text("fail_on: info\n")
    assert load() == ["info", False, True, True]


# --- precedence ---------------------------------------------------------------------------------


def test_command_line_over_file_over_preset(repo, monkeypatch):
    write_flow(repo / "flows.json")
    (repo / ".hacheck.yaml").write_text("extends: strict\nfail_on: error\nselect: [HA1]\nignore: [HA101]\n")
    v = shown(monkeypatch, repo)
    assert v["fail_on"] == {"value": "error", "origin": ".hacheck.yaml"}  # file over preset strict (info)
    assert v["preview"] == {"value": True, "origin": "preset strict"}
    v = shown(monkeypatch, repo, "--fail-on", "warning", "--select", "HA102,HC", "--ignore", "HA103")
    assert v["fail_on"] == {"value": "warning", "origin": "command line"}
    assert v["select"] == {"value": ["HA102", "HC"], "origin": "command line"}  # replaces
    assert v["ignore"] == {"value": ["HA101", "HA103"], "origin": ".hacheck.yaml + command line"}  # adds
    # the same through `check`: HA102 (warning) passes under the file's fail_on: error ...
    r = run(monkeypatch, repo, "check", "-f", "json", ".")
    assert r.exit_code == 0 and {x[0] for x in rules_of(r)} == {"HA102"}, r.output
    # ... and fails when the command line asks for warnings
    assert run(monkeypatch, repo, "check", "--fail-on", "warning", ".").exit_code == 1


# --- every key ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("select: [HA101]", {"HA101"}),
        ("select: [HA1]", {"HA101", "HA102"}),  # a prefix
        ("select: [mqtt-dynamic-subscription]", {"HA102"}),  # a name
        ("select: [HA1]\nignore: [HA102]", {"HA101"}),  # longest selector wins
        ("select: [HA102, HA101]\nignore: [HA1]", {"HA101", "HA102"}),
        ("ignore: [mqtt-subscription-not-shared, HA102]", set()),
    ],
)
def test_select_and_ignore(repo, monkeypatch, yaml_text, expected):
    write_flow(repo / "flows.json")
    (repo / ".hacheck.yaml").write_text(yaml_text + "\n")
    r = run(monkeypatch, repo, "check", "-f", "json", ".")
    assert {x[0] for x in rules_of(r)} & {"HA101", "HA102"} == expected


def test_severity_override_by_id_and_by_name(repo, monkeypatch):
    write_flow(repo / "flows.json")
    (repo / ".hacheck.yaml").write_text("severity:\n  HA101: info\n  mqtt-dynamic-subscription: error\nselect: [HA1]\nfail_on: error\n")
    r = run(monkeypatch, repo, "check", "-f", "json", ".")
    sev = {f["rule"]: f["severity"] for f in json.loads(r.stdout)["findings"]}
    assert sev == {"HA101": "info", "HA102": "error"}
    assert r.exit_code == 1  # HA102 is now an error
    v = shown(monkeypatch, repo)
    assert v["severity"]["entries"] == {"HA101": ".hacheck.yaml", "mqtt-dynamic-subscription": ".hacheck.yaml"}


def _pack(root: Path) -> Path:
    """A user rule pack with a rule that has options (bundled rules may change theirs)."""
    pack = root / "team-rules"
    pack.mkdir()
    (pack / "TEAM001-no-debug.yaml").write_text(
        "id: TEAM001\nname: no-debug\nseverity: warning\ncategory: custom\nstatus: stable\n"
        "message: '{node} is a debug node'\nmatch: {type: debug}\noptions: {limit: 3, mode: strict, on: true}\nfix: {available: false}\n"
        "docs:\n  what: A debug node.\n  why: Debug output costs.\n  use_instead: Remove it.\n"
        "  example: '[{\"id\": \"d\", \"type\": \"debug\", \"x\": 1, \"y\": 1, \"wires\": []}]'\n"
        "  example_ok: '[{\"id\": \"t\", \"type\": \"tab\"}]'\n"
    )
    return pack


def test_rule_packs_are_relative_to_the_config_file(repo, monkeypatch):
    _pack(repo)
    write_flow(repo / "flows" / "flows.json", FLOW + [{"id": "d", "type": "debug", "z": "t", "x": 1, "y": 1, "wires": []}])
    (repo / ".hacheck.yaml").write_text("rule_packs: [team-rules]\nselect: [TEAM]\n")
    r = run(monkeypatch, repo / "flows", "check", "-f", "json", ".")  # run from another folder
    assert rules_of(r) == [("TEAM001", "d", None)], r.output


def test_options_merge_over_rule_defaults_and_are_checked(repo, monkeypatch):
    _pack(repo)
    (repo / ".hacheck.yaml").write_text("rule_packs: [team-rules]\noptions:\n  no-debug: {limit: 5}\n  TEAM001: {mode: lax}\n")
    monkeypatch.chdir(repo)
    cfg = load_config(["."])
    rule = next(r for r in load_catalog(cfg.rule_packs) if r.id == "TEAM001")
    assert cfg.rule_options(rule) == {"limit": 5, "mode": "lax", "on": True}
    for bad, msg in [
        ("{limt: 5}", "options.TEAM001.limt: rule TEAM001 has no option 'limt'; its options: limit, mode, on"),
        ("{limit: five}", "options.TEAM001.limit: expected a number (the default is 3), got a string"),
        ("{on: 1}", "expected a boolean"),
    ]:
        (repo / ".hacheck.yaml").write_text(f"rule_packs: [team-rules]\noptions:\n  TEAM001: {bad}\n")
        r = run(monkeypatch, repo, "config", "show")
        assert r.exit_code == 2 and msg in r.stderr, r.output
        assert ".hacheck.yaml:3:" in r.stderr  # the line of the option


def test_exclude_globs_are_relative_to_the_config_file(repo, monkeypatch):
    write_flow(repo / "flows" / "flows.json")
    write_flow(repo / "flows" / "legacy" / "flows_old.json")
    write_flow(repo / "flows" / "flows_backup.json")
    (repo / ".hacheck.yaml").write_text("exclude: ['flows/legacy', '*_backup.json']\n")
    r = run(monkeypatch, repo / "flows", "check", "-f", "json", ".")
    assert [f["file"] for f in json.loads(r.stdout)["files"]] == ["flows.json"]


@pytest.mark.parametrize(
    "pattern, path, hit",
    [
        ("legacy", "a/legacy/flows.json", True),
        ("legacy", "legacy_flows.json", False),
        ("*.json", "a/b/flows.json", True),
        ("flows/*.json", "flows/a.json", True),
        ("flows/*.json", "x/flows/a.json", False),  # a slash anchors to the config folder
        ("flows/*.json", "flows/sub/a.json", False),  # * stays in one folder
        ("flows/**/*.json", "flows/sub/deep/a.json", True),
        ("**/tmp", "a/b/tmp/flows.json", True),
        ("flows_[0-9].json", "flows_3.json", True),
        ("flows_[!0-9].json", "flows_3.json", False),
        ("./flows.json", "flows.json", True),
    ],
)
def test_exclude_glob_semantics(pattern, path, hit):
    assert bool(glob_regex(pattern).match(path)) is hit


def test_context_store_and_share_group_keys_reach_the_config(repo, monkeypatch):
    (repo / ".hacheck.yaml").write_text("shared_context_stores: [redis]\npersistent_context_stores: [file, disk]\nshare_group: orders\n")
    monkeypatch.chdir(repo)
    cfg = load_config(["."])
    assert (cfg.shared_context_stores, cfg.persistent_context_stores, cfg.share_group) == (("redis",), ("file", "disk"), "orders")
    assert cfg.origin["share_group"] == ".hacheck.yaml"


COUNTER = [  # a load-balanced http in, and a function keeping a counter in the context store "redis"
    {"id": "t", "type": "tab", "label": "API"},
    {"id": "in", "type": "http in", "z": "t", "url": "/count", "method": "get", "x": 100, "y": 40, "wires": [["f"]]},
    {"id": "f", "type": "function", "z": "t", "name": "count", "outputs": 1, "x": 300, "y": 40, "wires": [["out"]],
     "func": 'const c = (flow.get("count", "redis") || 0) + 1;\nflow.set("count", c, "redis");\nmsg.payload = c;\nreturn msg;'},
    {"id": "out", "type": "http response", "z": "t", "x": 500, "y": 40, "wires": []},
]  # fmt: skip


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("{}", {("HA202", "f")}),  # an unknown store is one per copy
        ("shared_context_stores: [redis]", set()),  # every copy shares it: quiet
        ("persistent_context_stores: [redis]", {("HA203", "f")}),  # persistent, not synchronised
    ],
)
def test_context_store_keys_change_what_the_state_rules_say(repo, monkeypatch, yaml_text, expected):
    write_flow(repo / "flows.json", COUNTER)
    (repo / ".hacheck.yaml").write_text(yaml_text + "\n")
    r = run(monkeypatch, repo, "check", "-f", "json", "--select", "HA202,HA203", ".")
    assert {(x[0], x[1]) for x in rules_of(r)} == expected


def test_share_group_is_the_group_fix_uses(repo, monkeypatch):
    write_flow(repo / "flows.json")
    (repo / ".hacheck.yaml").write_text("share_group: orders\n")
    r = run(monkeypatch, repo, "fix", "--diff", ".")
    assert '"topic": "$share/orders/jobs/#"' in r.stdout, r.output


def test_preview_key_and_flag(repo, monkeypatch):
    (repo / ".hacheck.yaml").write_text("preview: false\n")
    assert shown(monkeypatch, repo)["preview"] == {"value": False, "origin": ".hacheck.yaml"}
    assert shown(monkeypatch, repo, "--preview")["preview"] == {"value": True, "origin": "command line"}


def test_ignore_findings_entries_are_kept(repo, monkeypatch):
    (repo / ".hacheck.yaml").write_text("ignore_findings:\n  - {rule: HA101, node: m, reason: plain on purpose}\n")
    v = shown(monkeypatch, repo)["ignore_findings"]
    assert v == {"value": [{"rule": "HA101", "node": "m", "reason": "plain on purpose"}], "origin": ".hacheck.yaml"}


def test_config_show_text_is_yaml_with_origins(repo, monkeypatch):
    (repo / ".hacheck.yaml").write_text("fail_on: error\nseverity: {HA101: info}\nignore_findings:\n  - {rule: HA101, node: m, reason: ok}\n")
    r = run(monkeypatch, repo, "config", "show", "--select", "HA1")
    assert r.exit_code == 0
    lines = {ln.split(":")[0].strip(): ln for ln in r.stdout.splitlines() if not ln.startswith("#")}
    assert lines["fail_on"].endswith("# .hacheck.yaml")
    assert lines["select"].endswith("# command line")
    assert lines["exclude"].endswith("# preset default")
    data = YAML(typ="safe", pure=True).load(r.stdout)
    assert data["fail_on"] == "error" and data["select"] == ["HA1"] and data["severity"] == {"HA101": "info"}
    assert data["ignore_findings"] == [{"rule": "HA101", "node": "m", "reason": "ok"}]


def test_empty_config_file_is_the_defaults(repo, monkeypatch):
    (repo / ".hacheck.yaml").write_text("# nothing yet\n")
    v = shown(monkeypatch, repo)
    assert v["fail_on"] == {"value": "warning", "origin": "preset default"}


# --- bad configuration: exit 2, file, key path, what is allowed ------------------------------


BAD = [
    ("fail-on: error", ".hacheck.yaml:1: fail-on: unknown key 'fail-on' (did you mean 'fail_on'?); allowed keys: effects, exclude, extends, fail_on,"),
    ("fail_on: warn", ".hacheck.yaml:1: fail_on: \"warn\" is not allowed; allowed: error, warning, info, never"),
    ("select: HA1", ".hacheck.yaml:1: select: expected a list of rule ids"),
    ("select: [HA1O1]", ".hacheck.yaml:1: select[0]: unknown rule 'HA1O1'"),
    ("ignore:\n  - HA102\n  - mqtt-subscription-not-share", ".hacheck.yaml:3: ignore[1]: unknown rule 'mqtt-subscription-not-share' (did you mean 'mqtt-subscription-not-shared'?)"),
    ("ignore: [ha1]", "ignore[0]: unknown rule 'ha1'"),
    ("severity:\n  HA101: high", ".hacheck.yaml:2: severity.HA101: \"high\" is not allowed; allowed: error, warning, info"),
    ("severity: {HA999: error}", ".hacheck.yaml:1: severity.HA999: unknown rule 'HA999'"),
    ("options: {HA999: {x: 1}}", "options.HA999: unknown rule 'HA999'"),
    ("options: {HA101: 3}", "options.HA101: expected a mapping of option name to value, got a number"),
    ("exclude: ['']", "exclude[0]: \"\" is not allowed; expected a path glob"),
    ("rule_packs: [nope]", ".hacheck.yaml: rule_packs[0]: folder 'nope' not found"),
    ("shared_context_stores: redis", "shared_context_stores: expected a list of context store names"),
    ("share_group: a/b", "share_group: \"a/b\" is not allowed; expected an MQTT shared-subscription group name"),
    ("extends: lax", "extends: \"lax\" is not allowed; allowed: default, strict"),
    ("preview: yes", "preview: expected true or false"),
    ("ignore_findings:\n  - {rule: HA101, reason: x}", ".hacheck.yaml:2: ignore_findings[0]: expected {rule, reason} and at least one of node, tab or file"),
    ("ignore_findings:\n  - {rule: HA101, node: m}", "ignore_findings[0]: 'reason' is missing"),
    ("ignore_findings:\n  - rule: HA101\n    node: m\n    reason: '  '", ".hacheck.yaml:4: ignore_findings[0].reason: \"  \" is not allowed; expected a non-empty reason"),
    ("ignore_findings:\n  - {rule: HA101, node: m, reason: x, why: y}", "ignore_findings[0].why: unknown key 'why'"),
    ("ignore_findings:\n  - {rule: HA999, node: m, reason: x}", ".hacheck.yaml:2: ignore_findings[0].rule: unknown rule 'HA999'"),
    ("ignore_findings:\n  - {rule: unused-suppression, node: m, reason: x}", ".hacheck.yaml:2: ignore_findings[0].rule: HC005 is about suppressions themselves"),
    ("select: [HA1", ".hacheck.yaml:2: not valid YAML"),
    ("fail_on: error\nfail_on: info", ".hacheck.yaml:2: not valid YAML: found duplicate key \"fail_on\""),
    ("- fail_on", ".hacheck.yaml: must be a mapping of settings (key: value), not a list"),
    ("severity: {101: error}", ".hacheck.yaml:1: severity: expected a rule id or name, got a number 101"),
    ("options: {HA101: {1: 2}}", "options.HA101: expected an option name, got a number 1"),
    ("select: [null]", "select[0]: expected a rule id, id prefix or rule name, got null"),
    ("1: x", ".hacheck.yaml:1: 1: unknown key '1'"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[b[0].split(":")[0] + str(i) for i, b in enumerate(BAD)])
def test_bad_config_is_exit_2_with_file_key_and_allowed(repo, monkeypatch, text, message):
    write_flow(repo / "flows.json")
    (repo / ".hacheck.yaml").write_text(text + "\n")
    r = run(monkeypatch, repo, "check", ".")
    assert r.exit_code == 2, r.output
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.output and r.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ('[tool.hacheck]\nfail_on = "warn"\n', "pyproject.toml [tool.hacheck]: fail_on: \"warn\" is not allowed"),
        ('[tool.hacheck]\nselect = "HA1"\n', "pyproject.toml [tool.hacheck]: select: expected a list"),
        ('[tool.hacheck\nfail_on = 1\n', "pyproject.toml: not valid TOML"),
        ('[tool.hacheck]\nignore = ["HA1O1"]\n', "pyproject.toml [tool.hacheck]: ignore[0]: unknown rule 'HA1O1'"),
    ],
)
def test_bad_pyproject_is_exit_2(repo, monkeypatch, text, message):
    write_flow(repo / "flows.json")
    (repo / "pyproject.toml").write_text(text)
    r = run(monkeypatch, repo, "check", ".")
    assert r.exit_code == 2 and message in r.stderr, r.output


def test_bad_command_line_rule_names_the_option(repo, monkeypatch):
    write_flow(repo / "flows.json")
    r = run(monkeypatch, repo, "check", "--select", "HA101,HA1O2", ".")
    assert r.exit_code == 2 and "--select: unknown rule 'HA1O2'" in r.stderr


def test_missing_explicit_config_is_exit_2(repo, monkeypatch):
    r = run(monkeypatch, repo, "check", "--config", "nope.yaml", ".")
    assert r.exit_code == 2 and "nope.yaml: configuration file not found" in r.stderr
    (repo / "empty.toml").write_text("[project]\n")
    r = run(monkeypatch, repo, "config", "show", "--config", "empty.toml")
    assert r.exit_code == 2 and "has no [tool.hacheck] table" in r.stderr


def test_load_config_raises_config_error_for_library_users(repo, monkeypatch):
    (repo / ".hacheck.yaml").write_text("fail_on: sometimes\n")
    monkeypatch.chdir(repo)
    with pytest.raises(ConfigError, match="fail_on"):
        load_config(["."])


def test_presets_are_valid_and_strict_differs_from_default():
    assert preset("strict") and preset("strict") != preset("default")


def test_the_configuration_pages_examples_are_valid(repo, monkeypatch):
    """docs/configuration.md's blocks, as the page shows them: the full .hacheck.yaml and the
    ignore_findings example."""
    blocks = code_blocks(REPO / "docs" / "configuration.md", "yaml")
    assert len(blocks) == 2
    (repo / "ci" / "hacheck-rules").mkdir(parents=True)
    for block in blocks:
        (repo / ".hacheck.yaml").write_text(block)
        r = run(monkeypatch, repo, "config", "show")
        assert r.exit_code == 0, (block, r.stderr)
