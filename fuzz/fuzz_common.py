"""What the fuzz targets share: where the seeds come from, default libFuzzer options, and a
structure-aware mutator for flows.

The seeds are built at start-up from the shared corpus of real flows and the repo's
fixtures (never copied into the repo): whole small files, and slices of large ones (one
tab and its nodes, one subflow and its instances), some wrapped as an Admin API body or a
FlowFuse snapshot, because libFuzzer works best on many small inputs. They go into a
working directory under .cache/ (ignored by git), which libFuzzer then grows.
"""

from __future__ import annotations

import copy
import json
import os
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import corpus_dir

CORPUS = corpus_dir() / "files"
FIXTURES = REPO / "fixtures"
WORK = REPO / ".cache" / "fuzz"
MAX_SEED = 16 * 1024  # bytes; bigger slices are cut down to their first nodes


def flow_documents() -> list[tuple[str, object]]:
    """(name, parsed document) of every JSON flow in the corpus and the fixtures."""
    out: list[tuple[str, object]] = []
    paths = sorted(CORPUS.glob("*")) + sorted(FIXTURES.rglob("*.json"))
    for p in paths:
        try:
            out.append((p.name, json.loads(p.read_text("utf-8"))))
        except (OSError, ValueError):
            continue  # malformed on purpose: seeded as raw bytes below
    return out


def raw_files() -> list[tuple[str, bytes]]:
    """Small files as they are (including the malformed ones)."""
    out = []
    for p in sorted(CORPUS.glob("*")) + sorted(FIXTURES.rglob("*.json")):
        try:
            if p.stat().st_size <= MAX_SEED:
                out.append((p.name, p.read_bytes()))
        except OSError:
            continue
    return out


def _nodes(doc) -> list:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and isinstance(doc.get("flows"), list):
        return doc["flows"]
    return []


def flow_slices(doc) -> list[list]:
    """Each tab with its nodes, each subflow with its nodes and one instance, capped in size."""
    nodes = [n for n in _nodes(doc) if isinstance(n, dict)]
    by_z: dict[str, list] = {}
    for n in nodes:
        if isinstance(n.get("z"), str):
            by_z.setdefault(n["z"], []).append(n)
    config = [n for n in nodes if "z" not in n and n.get("type") not in ("tab", "subflow")][:5]
    out = []
    for n in nodes:
        if n.get("type") == "tab":
            out.append([n, *by_z.get(n.get("id"), []), *config])
        elif n.get("type") == "subflow":
            inst = [m for m in nodes if m.get("type") == f"subflow:{n.get('id')}"][:1]
            out.append([n, *by_z.get(n.get("id"), []), *inst])
    return [_cap(s) for s in out if s]


def _cap(nodes: list) -> list:
    while len(nodes) > 1 and len(json.dumps(nodes)) > MAX_SEED:
        nodes = nodes[: max(1, len(nodes) // 2)]
    return nodes


def loader_seeds() -> list[bytes]:
    seeds: list[bytes] = [data for _, data in raw_files()]
    for i, (_, doc) in enumerate(flow_documents()):
        for j, s in enumerate(flow_slices(doc)):
            seeds.append(json.dumps(s).encode())
            if (i + j) % 5 == 0:  # the two wrapped shapes, with a top-level credentials block
                creds = {n["id"]: {"password": "x"} for n in s[:2] if isinstance(n.get("id"), str)}
                seeds.append(json.dumps({"flows": s, "rev": "r1", "credentials": creds}).encode())
                seeds.append(json.dumps({"id": "snap", "flows": {"flows": s, "credentials": creds}}).encode())
    return _dedup(seeds)


def js_seeds() -> list[bytes]:
    """The code of every function node (and other JavaScript fields) in corpus and fixtures."""
    seeds: list[bytes] = []
    for _, doc in flow_documents():
        for n in _nodes(doc):
            if isinstance(n, dict):
                for field in ("func", "initialize", "finalize"):
                    v = n.get(field)
                    if isinstance(v, str) and v.strip() and len(v) <= MAX_SEED:
                        seeds.append(v.encode("utf-8", "surrogatepass"))
    return _dedup(seeds)


def _dedup(seeds: list[bytes]) -> list[bytes]:
    return list(dict.fromkeys(seeds))


def prepare(name: str, seeds, argv: list[str], defaults: list[str]) -> list[str]:
    """libFuzzer's argv: the caller's options, the defaults it did not give, and the working
    corpus directory (filled with the seeds on first use) unless the caller named one."""
    opts = [a for a in argv[1:] if a.startswith("-")]
    dirs = [a for a in argv[1:] if not a.startswith("-")]
    given = {a.split("=", 1)[0] for a in opts}
    extra = [d for d in defaults if d.split("=", 1)[0] not in given]
    if not dirs:
        work = WORK / f"corpus_{name}"
        work.mkdir(parents=True, exist_ok=True)
        if not any(work.iterdir()):
            for i, s in enumerate(seeds()):
                (work / f"seed-{i:05d}").write_bytes(s)
        dirs = [str(work)]
        # crashes and slow inputs land next to the corpus, not in the current directory
        if "-artifact_prefix" not in given:
            extra.append(f"-artifact_prefix={WORK}/{name}-")
    return [argv[0], *opts, *extra, *dirs]


# --- a structure-aware mutation of flows (for the loader target) -----------------------------

_TYPES = ["tab", "subflow", "group", "junction", "link in", "link out", "link call", "function", "inject",
          "mqtt in", "mqtt out", "mqtt-broker", "http in", "http response", "change", "switch", "delay",
          "catch", "status", "complete", "ui_button", "kafkajs-consumer", "amqp-in", "websocket in", "tcp in"]
_ODD_VALUES = [None, True, 0, -1, 1e308, "", "x", [], {}, [[]], [["x"]], {"a": 1}, "subflow:", "\u0000", "\ud800", 7, "wires"]
_FIELDS = ["id", "type", "z", "g", "wires", "links", "name", "topic", "func", "broker", "d", "disabled", "env",
           "credentials", "nodes", "in", "out", "mode", "scope", "clientid", "rules", "x", "y", "datatype", "qos"]


def _odd(rnd: random.Random):
    return copy.deepcopy(rnd.choice(_ODD_VALUES))  # never share a container between nodes


def mutate_flow(doc, rnd: random.Random):
    """One structural change of a parsed flow: the mistakes and attacks the loader must survive."""
    nodes = _nodes(doc)
    if not nodes:
        return [{"id": "a", "type": rnd.choice(_TYPES), "z": "t", "wires": [["a"]]}, {"id": "t", "type": "tab"}]
    ids = [n.get("id") for n in nodes if isinstance(n, dict)] or ["x"]
    i = rnd.randrange(len(nodes))
    n = nodes[i]
    op = rnd.randrange(9)
    if op == 0:
        del nodes[i]
    elif op == 1:
        nodes.append(copy.deepcopy(n))  # duplicate id
    elif op == 2 and isinstance(n, dict):
        n[rnd.choice(_FIELDS)] = _odd(rnd)
    elif op == 3 and isinstance(n, dict):
        n["wires"] = [[rnd.choice(ids) for _ in range(rnd.randrange(3))] for _ in range(rnd.randrange(3))]
    elif op == 4 and isinstance(n, dict):
        n["type"] = rnd.choice(_TYPES + [f"subflow:{rnd.choice(ids)}"])
    elif op == 5 and isinstance(n, dict):
        n["z"] = rnd.choice(ids)
    elif op == 6 and isinstance(n, dict):
        n["links"] = [rnd.choice(ids) for _ in range(rnd.randrange(4))]
    elif op == 7 and isinstance(n, dict):
        n["g"] = rnd.choice(ids)
    else:
        nodes[i] = _odd(rnd)
    return doc


def custom_mutator(data: bytes, max_size: int, seed: int, byte_mutate) -> bytes:
    """Half the time a structural change of a flow that parses, else libFuzzer's byte mutation."""
    rnd = random.Random(seed)
    if rnd.random() < 0.5:
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            doc = None
        if doc is not None:
            for _ in range(rnd.randint(1, 3)):
                doc = mutate_flow(doc, rnd)
            out = json.dumps(doc).encode("utf-8", "surrogatepass")
            if len(out) <= max_size:
                return out
    return byte_mutate(data, max_size)


def ensure_repo_on_path() -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    os.environ.setdefault("NO_COLOR", "1")
