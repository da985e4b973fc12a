"""scripts/fetch-corpus, against a TEST DOUBLE of raw.githubusercontent.com.

This machine has no network, so the real download is never tried here. The double is a
loopback HTTP server answering <repo>/<commit>/<path> from a temporary folder, as
raw.githubusercontent.com does; the script is run as a user runs it, with --base-url pointing
at the double. What is checked is the script's own logic: the URL it asks for, the sha256
check (a mismatch is an error and the file is not kept), that a second run fetches nothing,
that a partial corpus is never marked complete, and the error when nothing can be reached.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from tests.conftest import COMMITTED_MANIFEST, REPO, load_script
from tests.http_json import serving

SCRIPT = REPO / "scripts" / "fetch-corpus"
HEAD = ["local_name", "repo", "path", "commit", "bytes", "n_nodes", "top_types", "notes", "sha256"]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class RawGithubDouble(SimpleHTTPRequestHandler):
    """Test double of raw.githubusercontent.com: serves files from `directory`, quietly,
    and records each path asked for."""

    asked: list[str] = []

    def do_GET(self):  # noqa: N802 (the http.server name)
        type(self).asked.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


def _double(root: Path):
    class Handler(RawGithubDouble):
        asked: list[str] = []

    return Handler, partial(Handler, directory=str(root))


def _script():
    return load_script(SCRIPT, "fetch_corpus")


def _row(name: str, repo: str, path: str, data: bytes, notes: str = "") -> dict[str, str]:
    return {"local_name": name, "repo": repo, "path": path, "commit": COMMIT, "bytes": str(len(data)),
            "n_nodes": "1", "top_types": "inject:1", "notes": notes, "sha256": hashlib.sha256(data).hexdigest()}


def _write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("\n".join(["\t".join(HEAD)] + ["\t".join(r[h] for h in HEAD) for r in rows]) + "\n", "utf-8")
    return path


def _publish(root: Path, row: dict[str, str], data: bytes) -> None:
    """Put `data` where the double serves <repo>/<commit>/<path>."""
    f = root / row["repo"] / row["commit"] / row["path"]
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(data)


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HACHECK_CORPUS"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120)


FLOW_A = b'[{"id":"a","type":"inject","z":"t"},{"id":"t","type":"tab"}]\n'
FLOW_B = b'[{"id":"b","type":"mqtt in","topic":"x/#","z":"t"},{"id":"t","type":"tab"}]\n'


@pytest.fixture
def site(tmp_path):
    """Two flows published on the double (one under a path with a space), their manifest, and
    an empty corpus folder to fetch into."""
    root = tmp_path / "raw"
    rows = [_row("001__alice__flows__flows.json", "alice/flows", "flows.json", FLOW_A),
            _row("002__bob__nr__examples_My flow.json", "bob/nr", "examples/My flow.json", FLOW_B)]
    _publish(root, rows[0], FLOW_A)
    _publish(root, rows[1], FLOW_B)
    return root, rows, _write_manifest(tmp_path / "manifest.tsv", rows), tmp_path / "corpus"


def test_url_is_raw_githubusercontent_at_the_pinned_commit():
    mod = _script()
    assert mod.BASE_URL == "https://raw.githubusercontent.com"
    row = {"repo": "bob/nr", "commit": COMMIT, "path": "examples/My flow.json"}
    assert mod.url_of(mod.BASE_URL, row) == f"https://raw.githubusercontent.com/bob/nr/{COMMIT}/examples/My%20flow.json"
    assert mod.MANIFEST == COMMITTED_MANIFEST


def test_fetches_verifies_and_marks_the_corpus_complete_then_fetches_nothing_again(site):
    root, rows, manifest, dest = site
    handler, factory = _double(root)
    with serving(factory) as base:
        first = _run("--base-url", base, "--manifest", str(manifest), "--dest", str(dest))
        assert first.returncode == 0, first.stderr
        assert "2 fetched, 0 already present" in first.stdout
        assert sorted(handler.asked) == sorted(f"/{r['repo']}/{COMMIT}/{r['path'].replace(' ', '%20')}" for r in rows)
        assert (dest / "files" / rows[0]["local_name"]).read_bytes() == FLOW_A
        assert (dest / "files" / rows[1]["local_name"]).read_bytes() == FLOW_B
        assert (dest / "manifest.tsv").read_bytes() == manifest.read_bytes()
        assert sorted(p.name for p in dest.iterdir()) == ["files", "manifest.tsv"]  # no partial download left

        handler.asked.clear()
        again = _run("--base-url", base, "--manifest", str(manifest), "--dest", str(dest))
        assert again.returncode == 0, again.stderr
        assert "0 fetched, 2 already present and verified" in again.stdout and handler.asked == []


def test_a_sha256_mismatch_is_an_error_and_the_file_is_not_kept(site):
    root, rows, manifest, dest = site
    _publish(root, rows[1], FLOW_B.replace(b"x/#", b"y/#"))  # the double now serves other bytes
    _, factory = _double(root)
    with serving(factory) as base:
        proc = _run("--base-url", base, "--manifest", str(manifest), "--dest", str(dest))
    assert proc.returncode == 1
    assert f"{rows[1]['local_name']}: sha256 mismatch: expected {rows[1]['sha256']}" in proc.stderr and "not kept" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in (dest / "files").iterdir()) == [rows[0]["local_name"]]  # the good one is kept
    assert not (dest / "manifest.tsv").exists(), "a partial corpus must not look complete to the tests"
    assert sorted(p.name for p in dest.iterdir()) == ["files"]


def test_a_missing_file_and_a_corrupted_local_copy(site):
    root, rows, manifest, dest = site
    handler, factory = _double(root)
    with serving(factory) as base:
        assert _run("--base-url", base, "--manifest", str(manifest), "--dest", str(dest)).returncode == 0
        (dest / "files" / rows[0]["local_name"]).write_bytes(b"edited")  # a local copy gone bad
        (dest / "files" / rows[1]["local_name"]).unlink()  # and one lost, which the double no longer has
        shutil.rmtree(root / rows[1]["repo"])
        handler.asked.clear()
        proc = _run("--base-url", base, "--manifest", str(manifest), "--dest", str(dest))
    assert proc.returncode == 1
    assert f"{rows[1]['local_name']}: {base}/bob/nr/{COMMIT}/examples/My%20flow.json: HTTP 404" in proc.stderr
    assert f"{rows[0]['local_name']}: sha256 does not match the manifest, fetching it again" in proc.stdout
    assert (dest / "files" / rows[0]["local_name"]).read_bytes() == FLOW_A  # fetched again
    assert len(handler.asked) == 2
    assert not (dest / "manifest.tsv").exists(), "the copy from the complete run is withdrawn"


def test_offline_is_one_clear_error(site):
    _, _, manifest, dest = site
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = _run("--base-url", f"http://127.0.0.1:{port}", "--manifest", str(manifest), "--dest", str(dest))
    assert proc.returncode == 2
    assert f"fetch-corpus: ERROR: cannot reach http://127.0.0.1:{port}" in proc.stderr and "needs network access" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert [p.name for p in dest.iterdir()] == ["files"] and not list((dest / "files").iterdir())


def test_someone_elses_manifest_is_left_as_it_is(site):
    root, _, manifest, dest = site
    (dest / "files").mkdir(parents=True)
    (dest / "manifest.tsv").write_text("theirs\n")
    _, factory = _double(root)
    with serving(factory) as base:
        proc = _run("--base-url", base, "--manifest", str(manifest), "--dest", str(dest))
    assert proc.returncode == 0, proc.stderr
    assert (dest / "manifest.tsv").read_text() == "theirs\n" and "left as it is" in proc.stderr


def test_real_corpus_files_verify_against_the_committed_manifest(corpus, tmp_path):
    """Two rows of the committed manifest, served by the double from a temporary copy of the
    corpus files: the pinned sha256 are those of the real files."""
    lines = COMMITTED_MANIFEST.read_text("utf-8").splitlines()
    head = lines[0].split("\t")
    picked = [dict(zip(head, ln.split("\t"))) for ln in (lines[1], lines[-1])]
    root = tmp_path / "raw"
    for row in picked:
        _publish(root, row, (corpus / "files" / row["local_name"]).read_bytes())
    manifest = tmp_path / "two.tsv"
    manifest.write_text("\n".join([lines[0], lines[1], lines[-1]]) + "\n", "utf-8")
    _, factory = _double(root)
    with serving(factory) as base:
        proc = _run("--base-url", base, "--manifest", str(manifest), "--dest", str(tmp_path / "corpus"))
    assert proc.returncode == 0, proc.stderr
    assert "2 fetched" in proc.stdout
