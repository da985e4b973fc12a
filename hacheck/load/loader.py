"""Find flow files and read them into FlowFile models, turning bad input into findings."""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from hacheck.load.jsonpos import DecodeError, decode
from hacheck.model.flow import FlowFile, LoadProblem, Node

SKIP_DIRS = {"node_modules", ".git", ".hg", ".svn", "__pycache__", ".venv", "venv"}
MAX_BYTES = 512 * 1024 * 1024


class UsageError(Exception):
    """A problem with what the user asked for (exit 2), not with a flow."""


@dataclass(frozen=True)
class Source:
    path: str  # what the user sees in reports
    fs_path: str | None  # None for standard input


def discover(paths: list[str], exclude=None) -> list[Source]:
    """Expand CLI paths into flow files. A missing path is a usage error."""
    out: list[Source] = []
    seen: set[str] = set()
    for p in paths:
        if p == "-":
            out.append(Source("<stdin>", None))
            continue
        try:
            st = os.stat(p)
        except FileNotFoundError:
            raise UsageError(f"{p}: no such file or directory") from None
        except OSError as e:
            raise UsageError(f"{p}: {e.strerror or e}") from None
        if stat.S_ISDIR(st.st_mode):
            found = _walk(p)
            if not found:
                raise UsageError(f"{p}: no flow files found (looked for flows*.json and a package.json flowFile)")
            cands = found
        else:
            cands = [p]  # a named file is read whatever its name: the user asked for it
        for c in cands:
            shown = _display(c)
            if exclude and exclude(shown):
                continue
            if shown not in seen:
                seen.add(shown)
                out.append(Source(shown, c))
    return out


def _display(p: str) -> str:
    try:
        rel = os.path.relpath(p)
    except ValueError:  # another drive on Windows
        rel = p
    if rel.startswith(".." + os.sep) or rel == "..":
        rel = os.path.abspath(p)
    return Path(rel).as_posix()


def is_candidate_name(name: str) -> bool:
    if name.endswith("_cred.json") or (name.startswith(".") and name.endswith(".backup")):
        return False
    return name.startswith("flows") and name.endswith(".json")


def _walk(root: str) -> list[str]:
    """Flow files under a directory, in a stable order. Symlinked directories are not
    followed (a link loop must not hang us); only regular files are returned."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        project_file = _project_flow_file(dirpath, filenames)
        names = [project_file] if project_file else [f for f in sorted(filenames) if is_candidate_name(f)]
        for f in names:
            full = os.path.join(dirpath, f)
            try:
                if stat.S_ISREG(os.stat(full).st_mode):
                    found.append(full)
            except OSError:
                found.append(full)  # unreadable: reported as HC001 when read
    return found


def _project_flow_file(dirpath: str, filenames: list[str]) -> str | None:
    """A Node-RED project names its flow file in package.json (node-red.settings.flowFile)."""
    if "package.json" not in filenames:
        return None
    try:
        with open(os.path.join(dirpath, "package.json"), "rb") as fh:
            pkg = json.loads(fh.read(1_000_000))
        name = pkg["node-red"]["settings"]["flowFile"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if isinstance(name, str) and name in filenames and "/" not in name:
        return name
    return None


def read_source(src: Source) -> FlowFile:
    """Read one source. Never raises for bad content: problems become HC001/HC002 findings."""
    try:
        data = _read_bytes(src)
    except OSError as e:
        return _unreadable(src, f"cannot be read: {e.strerror or e}")
    except _NotRegular as e:
        return _unreadable(src, str(e))
    return parse_bytes(src.path, data)


class _NotRegular(Exception):
    pass


def _read_bytes(src: Source) -> bytes:
    if src.fs_path is None:
        # bounded like a file: `hacheck check - < /dev/zero` must end with an answer
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise _NotRegular(f"cannot be read: standard input is over the {MAX_BYTES // 2**20} MiB limit")
        return data
    # open without blocking so a FIFO or device named by the user cannot hang us
    fd = os.open(src.fs_path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (FIFO, device or socket)"
            raise _NotRegular(f"cannot be read: {kind}")
        if st.st_size > MAX_BYTES:
            raise _NotRegular(f"cannot be read: {st.st_size} bytes is over the {MAX_BYTES // 2**20} MiB limit")
        # one read of the whole file (a 45 MB flow copied once, not chunked and joined); the
        # loop is for a file that grows while we read it
        chunks, want = [], st.st_size + 1
        while True:
            b = os.read(fd, want)
            if not b:
                break
            chunks.append(b)
            want = 1 << 20
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


def _unreadable(src_path, message: str) -> FlowFile:
    path = src_path.path if isinstance(src_path, Source) else src_path
    return FlowFile(path=path, shape="unreadable", problems=[LoadProblem("HC001", message)])


def parse_bytes(path: str, data: bytes) -> FlowFile:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        return _unreadable(path, f"is not UTF-8: invalid byte at line {line}, column {col}")
    if not text or text.isspace():  # not strip(): that would copy the whole file
        return _unreadable(path, "is empty: not valid JSON")
    try:
        doc, offsets = decode(text)
    except DecodeError as e:
        return _unreadable(path, f"is not valid JSON: {e.why.removesuffix(' at')} at line {e.line}, column {e.column}")
    except MemoryError:
        return _unreadable(path, "is too large to read into memory")
    return build(path, doc, offsets, text)


def build(path: str, doc: object, offsets: dict[int, list[int]] | None = None, text: str | None = None) -> FlowFile:
    """Recognise the document's shape and make the model."""
    offsets = offsets or {}
    credentials = None
    if isinstance(doc, list):
        shape, items = "array", doc
    elif isinstance(doc, dict) and isinstance(doc.get("flows"), list):
        shape, items, credentials = "admin-api-v2", doc["flows"], doc.get("credentials")
    elif isinstance(doc, dict) and isinstance(doc.get("flows"), dict) and isinstance(doc["flows"].get("flows"), list):
        shape, items, credentials = "flowfuse-snapshot", doc["flows"]["flows"], doc["flows"].get("credentials")
    else:
        return FlowFile(path=path, shape="unreadable", problems=[LoadProblem("HC002", _not_a_flow(doc))])

    problems: list[LoadProblem] = []
    nodes = _nodes(items, offsets.get(id(items)), text)
    bad = len(items) - len(nodes)
    if items and not nodes:
        return FlowFile(
            path=path,
            shape="unreadable",
            problems=[LoadProblem("HC002", "is not a Node-RED flow: no element is a node (an object with string \"id\" and \"type\")")],
        )
    if bad:
        first = next(i for i, item in enumerate(items) if not (isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("type"), str) and item["id"]))
        problems.append(
            LoadProblem("HC002", f"{bad} element(s) of the flow are not nodes (the first is element {first}): an object with string \"id\" and \"type\" is expected; they were skipped")
        )
    ff = FlowFile(path=path, shape=shape, nodes=nodes, problems=problems, credentials=credentials, text=text)
    return ff


def _nodes(items: list, starts: list[int] | None, text: str | None) -> list[Node]:
    """The elements that are nodes (a dict with a non-empty string id and a string type), with
    the offset and line where each starts (`starts`: each element's offset, from the decoder).
    One pass: this runs once per node of a 100k flow."""
    nodes: list[Node] = []
    append = nodes.append
    count = text.count if text is not None and starts is not None and len(starts) == len(items) else None
    line, last, complete = 1, 0, True
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        nid, ntype = item.get("id"), item.get("type")
        if not (isinstance(nid, str) and nid and isinstance(ntype, str)):
            continue
        off = starts[i] if count is not None else None
        if off is None:
            complete = False
        elif complete:
            line += count("\n", last, off)  # offsets ascend: lines are counted once over the text
            last = off
        append(Node(item, nid, ntype, i, line if complete else None, off))
    if not complete:  # some node has no known offset: no line numbers at all, as before
        for n in nodes:
            n.line = None
    return nodes


def _not_a_flow(doc: object) -> str:
    if isinstance(doc, dict) and set(doc) == {"$"}:
        return "is an encrypted Node-RED credentials file (*_cred.json), not a flow"
    if isinstance(doc, dict):
        keys = ", ".join(sorted(map(str, doc))[:5])
        return f"is not a Node-RED flow: an object with keys {keys or '(none)'}; expected an array of nodes, an Admin API body {{\"flows\": [...]}} or a FlowFuse snapshot"
    return f"is not a Node-RED flow: the document is a JSON {type(doc).__name__.replace('str', 'string').replace('NoneType', 'null')}, expected an array of nodes"
