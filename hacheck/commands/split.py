"""`hacheck split FLOWS -o DIR`: the command. Reads the flow, splits it (hacheck/split/), writes the
two parts and the report all or nothing, and never writes credentials."""

from __future__ import annotations

import json

from hacheck.split.partition import split_checked
from hacheck.split.parts import HA, SINGLE, SplitError, parse_broker
from hacheck.split.report import report_data, report_text


def dumps_flow(nodes: list[dict]) -> str:
    """As the Node-RED editor exports: JSON.stringify(flows, null, 4)."""
    return json.dumps(nodes, indent=4, ensure_ascii=False) + "\n"


def run(flows_path: str, out_dir: str, bridge: str, broker_url: str | None, config, rules, force: bool = False) -> dict:
    """Split the file, write DIR/ha/flows.json, DIR/singleton/flows.json and the reports (all
    or nothing), and return the report. Raises SplitError for anything the user must fix."""
    import dataclasses
    import os

    from hacheck.config.suppress import Suppressor
    from hacheck.engine.check import check_flow
    from hacheck.load.loader import Source, read_source

    broker = None
    if bridge == "mqtt":
        if not broker_url:
            raise SplitError("--bridge mqtt needs --broker mqtt://host:port")
        broker = parse_broker(broker_url)
    elif broker_url:
        raise SplitError("--broker is for --bridge mqtt")
    _check_out_dir(out_dir, force)
    real_out = os.path.realpath(out_dir)
    if os.path.commonpath([real_out, os.path.realpath(flows_path)]) == real_out:
        raise SplitError(f"{out_dir}: the folder holds {flows_path}: write the parts into another folder")
    flow = read_source(Source(flows_path, flows_path))
    if flow.shape == "unreadable":
        msg = flow.problems[0].message if flow.problems else "cannot be read"
        raise SplitError(f"{flow.path}: cannot split: the file {msg}")
    if flow.problems:
        raise SplitError(f"{flow.path}: cannot split: the file {flow.problems[0].message}")
    # judged as the HA instance it is to become (a file's own singleton marker still wins)
    config = dataclasses.replace(config, instance="ha")
    supp = Suppressor(rules, config)
    s = split_checked(flow, lambda f: supp.apply(f, check_flow(f, rules, config)), bridge, broker)
    data = report_data(s, flow, bridge, broker)
    files = {
        os.path.join(HA, "flows.json"): dumps_flow(s.parts[HA]),
        os.path.join(SINGLE, "flows.json"): dumps_flow(s.parts[SINGLE]),
        "report.txt": report_text(data),
        "report.json": json.dumps(data, indent=2, ensure_ascii=False) + "\n",
    }
    _write_dir(out_dir, files, force)
    return data


def _check_out_dir(out_dir: str, force: bool) -> None:
    import os

    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise SplitError(f"{out_dir}: exists and is not a folder")
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not force:
        raise SplitError(f"{out_dir}: the folder is not empty (use --force to replace what is in it)")


def _write_dir(out_dir: str, files: dict[str, str], force: bool) -> None:
    """Everything is written into a new folder beside DIR, then renamed into place: an error
    leaves DIR as it was."""
    import os
    import shutil
    import tempfile

    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".hacheck-split-", dir=parent)
    except OSError as e:
        raise SplitError(f"{out_dir}: cannot write: {e.strerror or e}") from None
    old = None
    try:
        for rel, text in files.items():
            path = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # a lone surrogate ("\\ud800" in a flow) has no UTF-8 form: written as the same
            # escape, which inside a JSON string is the value it was
            with open(path, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as fh:
                fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700
        _check_out_dir(out_dir, force)  # again: it may have changed meanwhile
        if os.path.isdir(out_dir):
            if os.listdir(out_dir):
                old = tempfile.mkdtemp(prefix=".hacheck-split-old-", dir=parent)
                os.rmdir(old)
                os.rename(out_dir, old)
            else:
                os.rmdir(out_dir)
        os.rename(tmp, out_dir)
        tmp = None
    except OSError as e:
        if old is not None and not os.path.exists(out_dir):
            os.rename(old, out_dir)
            old = None
        raise SplitError(f"{out_dir}: cannot write: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
