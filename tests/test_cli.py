"""The command line contract: exit codes, output shapes, and no tracebacks."""

from __future__ import annotations

import json

import pytest

from hacheck import __version__
from tests.conftest import FIXTURES, assert_clean_error, run_cli

EXAMPLE = FIXTURES / "example" / "flows.json"
READY = FIXTURES / "example" / "flows-ha-ready.json"


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.out.strip() == f"hacheck {__version__}"


def test_unready_example_fails_and_names_the_problem():
    proc = run_cli("check", str(EXAMPLE))
    assert proc.returncode == 1
    assert "HA101 mqtt-subscription-not-shared" in proc.out
    assert "tab 'Orders'" in proc.out and "'shipping jobs' [mqtt_jobs]" in proc.out
    assert "FAILED" in proc.out.splitlines()[-1]
    assert "\033[" not in proc.out  # no colour when not a terminal


def test_ready_example_passes():
    proc = run_cli("check", str(READY))
    assert proc.returncode == 0, proc.out
    assert "HA-ready" in proc.out


@pytest.mark.parametrize("fail_on,code", [("error", 1), ("warning", 1), ("info", 1), ("never", 0)])
def test_fail_on_threshold(fail_on, code):
    assert run_cli("check", str(EXAMPLE), "--fail-on", fail_on).returncode == code


def test_warning_only_flow_passes_at_error_threshold(tmp_path):
    f = tmp_path / "flows.json"
    f.write_text(json.dumps([{"id": "t", "type": "tab"}, {"id": "a", "type": "inject", "z": "t", "x": 1, "y": 1, "wires": [["gone"]]}]))
    assert run_cli("check", str(f), "--fail-on", "error").returncode == 0
    assert run_cli("check", str(f)).returncode == 1  # default threshold is warning


def test_json_output_shape():
    proc = run_cli("check", str(EXAMPLE), "--format", "json")
    doc = json.loads(proc.out)
    assert doc["version"] == 1
    f = next(x for x in doc["findings"] if x["rule"] == "HA101")
    assert f == {**f, "file": "fixtures/example/flows.json", "name": "mqtt-subscription-not-shared", "severity": "error",
                 "node": "mqtt_jobs", "node_type": "mqtt in", "tab": "tab_orders", "tab_label": "Orders", "suppressed": None}
    assert isinstance(f["line"], int) and f["line"] > 1 and f["message"]
    assert doc["summary"]["files"] == 1 and doc["summary"]["error"] >= 1
    assert set(doc["summary"]) >= {"files", "error", "warning", "info"}


def test_output_file_and_stdout_together(tmp_path):
    out = tmp_path / "report.json"
    proc = run_cli("check", str(EXAMPLE), "--format", "json", "--output", str(out), "--format", "text")
    assert proc.returncode == 1
    assert json.loads(out.read_text())["findings"]
    assert "HA101" in proc.out and not proc.out.lstrip().startswith("{")


def test_output_into_a_fifo_or_through_a_symlink_keeps_them(tmp_path):
    """Regression: `-o /dev/null` used to rename a temp file over the device node, leaving
    /dev/null a plain file for every other process on the machine."""
    import os
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    proc = run_cli("check", str(EXAMPLE), "-f", "json", "-o", str(fifo))
    reader.join(timeout=60)
    assert proc.returncode == 1, proc.err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(got[0])["findings"]
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert run_cli("check", str(EXAMPLE), "-f", "json", "-o", str(link)).returncode == 1
    assert link.is_symlink() and json.loads(real.read_text())["findings"]


def test_output_is_deterministic():
    a = run_cli("check", str(EXAMPLE), str(READY), "--format", "json").out
    b = run_cli("check", str(READY), str(EXAMPLE), "--format", "json").out
    assert a == b


def test_quiet_prints_nothing_when_clean():
    proc = run_cli("check", str(READY), "--quiet")
    assert proc.returncode == 0 and proc.out == ""


def test_quiet_keeps_findings_but_drops_the_summary():
    proc = run_cli("check", str(EXAMPLE), "--quiet")
    assert "HA101" in proc.out and "file checked" not in proc.out


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["check", "--format", "yaml", "fixtures/example/flows.json"], "unknown format 'yaml'"),
        (["check", "--fail-on", "sometimes", "fixtures/example/flows.json"], "sometimes"),
        (["check", "-o", "a.json", "-o", "b.json", "-f", "json", "fixtures/example/flows.json"], "more --output than --format"),
        (["frobnicate"], "No such command"),
    ],
)
def test_usage_errors_exit_2(args, fragment):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert_clean_error(proc, fragment)


def test_output_to_an_unwritable_place_is_exit_2(tmp_path):
    proc = run_cli("check", str(EXAMPLE), "-f", "json", "-o", str(tmp_path / "no" / "such" / "dir" / "r.json"))
    assert proc.returncode == 2
    assert_clean_error(proc, "cannot write")


def test_python_dash_m_and_select(tmp_path):
    proc = run_cli("check", str(EXAMPLE), "--select", "HC", "--format", "json")
    assert proc.returncode == 0
    assert json.loads(proc.out)["findings"] == []
