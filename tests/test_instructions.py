"""benchmarks.instructions: instruction counts that repeat, so two versions can be compared
on a machine whose wall times drift. Runs the real valgrind (installed by scripts/install-deps)."""

from __future__ import annotations

import pytest

from benchmarks import instructions
from benchmarks.run import flow_file

pytestmark = pytest.mark.integration


def test_one_commit_counts_the_same_in_two_worktrees(tmp_path):
    flow = flow_file(tmp_path, 20)
    a, b = instructions.measure(["HEAD", "HEAD"], flow)
    assert a.commit == b.commit != "working tree"
    assert a.startup > 10_000_000 and a.check > 1_000_000  # a Python start, and a check on top of it
    assert a.findings == b.findings > 0
    # what makes it usable: the hash seed is fixed and bytecode is compiled before counting,
    # so the only difference is the worktree's path (same length, other letters)
    assert abs(a.total - b.total) / a.total < 1e-4
    assert "+0.00%" in instructions.table([a, b]).splitlines()[2]


def test_an_unknown_revision_is_a_usage_error(tmp_path, capsys):
    assert instructions.main(["--size", "20", "--data", str(tmp_path), "no-such-revision-x"]) == 2
    assert "no-such-revision-x: not a revision of this repository" in capsys.readouterr().err


def test_no_count_in_valgrinds_output_is_an_error_not_a_zero():
    assert instructions.collected("==12== Events    : Ir\n==12== Collected : 2672933572\n") == 2_672_933_572
    with pytest.raises(instructions.Failed, match="no instruction count"):
        instructions.collected("valgrind: failed to start tool 'callgrind'\n")
