"""`--jobs N` checks a fleet of flow files on a process pool with the same output as one process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import flowgen
from hacheck.run import parallel
from hacheck.config.files import load_config
from hacheck.load.loader import Source, discover
from hacheck.run.runner import check_sources
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    """A folder of generated flow files of varied sizes, one with an inline suppression, and a
    config whose ignore entries match in one file, in none, and in a file checked by a worker."""
    root = tmp_path_factory.mktemp("fleet")
    paths = flowgen.write_fleet(root, 14, seed=7, min_nodes=40, max_nodes=300)
    late = next(p for p in reversed(paths) if _plain_mqtt_in(json.loads(p.read_text("utf-8"))))
    flow = json.loads(late.read_text("utf-8"))
    _plain_mqtt_in(flow)["info"] = "hacheck-disable HA101 -- every copy must see each cache invalidation"
    late.write_text(json.dumps(flow, indent=4), "utf-8")
    broker = next(n for n in json.loads(paths[12].read_text("utf-8")) if n["type"] == "mqtt-broker")
    (root / ".hacheck.yaml").write_text(
        "ignore_findings:\n"
        f"  - {{rule: HA103, node: '{broker['id']}', reason: 'one broker per copy'}}\n"
        "  - {rule: HA101, node: 'no-such-node', reason: 'left over from a deleted flow'}\n"
        f"  - {{rule: HA150, file: 'instance-0003/*.json', node: '{_first(paths[3], 'http in')}', reason: 'answered by a catch'}}\n",
        "utf-8",
    )
    return root


def _plain_mqtt_in(flow: list) -> dict | None:
    return next((n for n in flow if n["type"] == "mqtt in" and n.get("topic") and not n["topic"].startswith("$share/")), None)


def _first(path: Path, node_type: str) -> str:
    return next(n["id"] for n in json.loads(path.read_text("utf-8")) if n["type"] == node_type)


def test_the_fleet_is_big_enough_to_use_the_pool(fleet):
    sources = discover([str(fleet)])
    assert len(sources) == 14
    assert parallel.worth_it(sources, 2)
    assert len(parallel.chunks(sources, 2 * parallel.CHUNKS_PER_JOB)) > 2


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_jobs_2_prints_exactly_what_jobs_1_prints(fleet, fmt):
    serial = run_cli("check", ".", "-f", fmt, "--jobs", "1", cwd=fleet)
    pooled = run_cli("check", ".", "-f", fmt, "--jobs", "2", cwd=fleet)
    assert serial.returncode == pooled.returncode == 1, serial.err + pooled.err
    assert pooled.out == serial.out
    assert pooled.err == serial.err
    if fmt == "json":
        doc = json.loads(serial.out)
        assert doc["summary"]["files"] == 14
        assert {f["rule"] for f in doc["findings"]} >= {"HA101", "HC005"}
        assert any(f["suppressed"] for f in doc["findings"])  # the suppressions took part


def test_default_jobs_matches_an_explicit_serial_run(fleet):
    default = run_cli("check", ".", "-f", "json", cwd=fleet)
    serial = run_cli("check", ".", "-f", "json", "-j", "1", cwd=fleet)
    assert default.out == serial.out


def test_library_pool_result_equals_serial_result(fleet, monkeypatch):
    monkeypatch.chdir(fleet)
    from hacheck.engine.catalog import load_catalog

    sources = discover(["."])
    rules = load_catalog()
    config = load_config(["."])
    assert len(config.ignore_findings) == 3
    one = check_sources(sources, config, rules, jobs=1)
    used = []
    real = parallel.check_in_pool
    monkeypatch.setattr(parallel, "check_in_pool", lambda *a, **k: used.append(1) or real(*a, **k))
    two = check_sources(sources, config, rules, jobs=2)
    assert used, "the pool was not used"
    assert [fr.path for fr in two.files] == sorted(fr.path for fr in one.files)
    assert [(fr.path, fr.findings) for fr in two.files] == [(fr.path, fr.findings) for fr in one.files]
    assert two.notes == one.notes and any("no-such-node" in n for n in one.notes)


def test_chunks_keep_the_order_and_lose_nothing(fleet):
    sources = discover([str(fleet)])
    for n in (1, 2, 3, 8, 50):
        runs = parallel.chunks(sources, n)
        assert [s for run in runs for s in run] == sources
        assert len(runs) <= n and all(runs)


def test_few_files_or_stdin_are_checked_without_a_pool(fleet):
    sources = discover([str(fleet)])
    assert not parallel.worth_it(sources[:2], 2)
    assert not parallel.worth_it(sources, 1)
    assert not parallel.worth_it(sources + [Source("<stdin>", None)], 2)


def test_jobs_must_be_a_positive_number(fleet):
    proc = run_cli("check", ".", "--jobs", "0", cwd=fleet)
    assert proc.returncode == 2 and "Traceback" not in proc.err


def test_a_checked_flow_is_freed_without_a_garbage_collection(fleet):
    """The CLI runs with the cyclic collector off, so a serial run frees each flow only if
    nothing it built (graph, trace, input paths, context index) forms a reference cycle:
    otherwise `--jobs 1` over a fleet keeps every flow in memory (it held 1 GiB for 1,000
    files)."""
    import gc
    import weakref

    from hacheck.engine.catalog import load_catalog
    from hacheck.load.loader import read_source
    from hacheck.run.runner import check_one

    rules = load_catalog()
    config = load_config([str(fleet)], None, {"preview": True})
    src = max(discover([str(fleet)]), key=lambda s: Path(s.fs_path).stat().st_size)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        flow = read_source(src)
        alive = weakref.ref(flow)
        result = check_one(flow, rules, config)
        del flow
        assert result.findings, "the flow should exercise the path and context rules"
        assert alive() is None
    finally:
        if was_enabled:
            gc.enable()
