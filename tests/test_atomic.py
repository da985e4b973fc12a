"""Reports and fixes replace a file whole or not at all, also when written as a stream."""

from __future__ import annotations

import os

import pytest

from hacheck.util.atomic import replace_file, replacing


def test_a_streamed_write_replaces_the_file_when_the_block_ends(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    with replacing(str(target)) as fh:
        fh.write(b"new ")
        assert target.read_text() == "old"  # not yet: the new text is in a temp file
        fh.write(b"text")
    assert target.read_text() == "new text"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_streamed_write_that_fails_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="renderer broke"):
        with replacing(str(target)) as fh:
            fh.write(b"half a rep")
            raise RuntimeError("renderer broke")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_new_file_gets_the_mode_a_plain_open_would_give(tmp_path):
    umask = os.umask(0o022)
    try:
        replace_file(str(tmp_path / "new.json"), b"{}")
    finally:
        os.umask(umask)
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o644
