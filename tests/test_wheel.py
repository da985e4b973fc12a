"""An installed wheel is a working tool: the rules ship inside it (not read from the checkout)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    dist = tmp / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(REPO)],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    wheels = list(dist.glob("nodered_hacheck-*.whl"))
    assert len(wheels) == 1, wheels
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheels[0])], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return env_dir


def _run(env_dir: Path, *args: str, cwd: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["NO_COLOR"] = "1"
    return subprocess.run([str(env_dir / "bin" / "hacheck"), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_wheel_contains_the_rules(installed, tmp_path):
    site = next((installed / "lib").glob("python*/site-packages"))
    bundled = sorted(p.name for p in (site / "hacheck" / "_rules").glob("*.yaml"))
    assert bundled == sorted(p.name for p in (REPO / "rules").glob("*.yaml"))


def test_installed_tool_checks_a_flow_outside_the_checkout(installed, tmp_path):
    flow = tmp_path / "flows.json"
    flow.write_bytes((FIXTURES / "example" / "flows.json").read_bytes())
    proc = _run(installed, "check", "flows.json", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    rules = {f["rule"] for f in json.loads(proc.stdout)["findings"]}
    assert "HA101" in rules
    listed = _run(installed, "rules", "--format", "json", cwd=tmp_path)
    assert len(json.loads(listed.stdout)) == len(list((REPO / "rules").glob("*.yaml")))
    assert "Why it breaks under HA" in _run(installed, "explain", "HA101", cwd=tmp_path).stdout
    # the installed package really is the one in the venv, not the checkout
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as _run: a PYTHONPATH would win
    where = subprocess.run([str(installed / "bin" / "python"), "-c", "import hacheck; print(hacheck.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env)
    assert str(installed) in where.stdout


def test_the_test_extra_installs_the_build_backend():
    """The wheel above is built without build isolation (nothing downloaded while testing), so
    the backend [build-system] requires must come with `pip install -e .[test]`."""
    tomllib = pytest.importorskip("tomllib")
    meta = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    assert set(meta["build-system"]["requires"]) <= set(meta["project"]["optional-dependencies"]["test"])
