"""How much of npm's most-downloaded Node-RED modules the effect catalogue describes (issue 30).

    python -m benchmarks.top_modules          # packs each package of benchmarks/npm-top150.tsv
    python -m benchmarks.top_modules -v       # and lists each package's uncatalogued types

Each package is fetched with `npm pack` (kept under .cache/npm-top/, so a second run reads no
network) and read with the same reader as `hacheck catalogue draft`: the types its
`node-red.nodes` files register. A package counts as covered when every type it registers is
in the bundled catalogue (rules/effects/*.yaml, neutral types included). A package without a
`node-red.nodes` section is not a node module (a launcher, a theme, a library) and is counted
apart, as is one that `npm pack` could not fetch. A few modules register their types under
computed names (`RED.nodes.registerType(name, ...)`) that the reader cannot list: for those the
catalogue file of the package, written from its source by hand, is taken as the list of types,
and they are named in the output.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIST = Path(__file__).with_name("npm-top150.tsv")
CACHE = REPO / ".cache" / "npm-top"


def packages() -> list[tuple[int, str, int]]:
    rows = []
    for line in LIST.read_text("utf-8").splitlines():
        if line.startswith("#") or line.startswith("rank\t") or not line.strip():
            continue
        rank, name, downloads = line.split("\t")
        rows.append((int(rank), name, int(downloads)))
    return rows


def fetch(name: str) -> Path | str:
    """The unpacked package folder, or why it could not be had (one line)."""
    folder = CACHE / name.replace("/", "+")
    unpacked = folder / "package"
    if (unpacked / "package.json").is_file():
        return unpacked
    folder.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["npm", "pack", name, "--pack-destination", str(folder)],
                       capture_output=True, text=True, timeout=300)
    tgz = sorted(folder.glob("*.tgz"))
    if p.returncode != 0 or not tgz:
        return (p.stderr.strip().splitlines() or ["npm pack failed"])[-1]
    with tarfile.open(tgz[-1]) as t:
        t.extractall(folder, filter="data")
    # some tarballs name their folder after the package instead of `package/`
    if not unpacked.is_dir():
        dirs = [d for d in folder.iterdir() if d.is_dir()]
        if len(dirs) == 1:
            dirs[0].rename(unpacked)
    return unpacked if (unpacked / "package.json").is_file() else "no package.json in the tarball"


def by_package(known: dict[str, dict]) -> dict[str, list[str]]:
    """package name -> the types the bundled catalogue describes for it (each entry names its file's package)."""
    out: dict[str, list[str]] = {}
    for t, entry in known.items():
        out.setdefault(entry["package"], []).append(t)
    return out


def measure() -> dict:
    from hacheck.analysis.node_module import ModuleError, read_module
    from hacheck.effects.catalogue import bundled

    known = bundled()
    packaged = by_package(known)
    rows = packages()
    with ThreadPoolExecutor(4) as pool:
        folders = list(pool.map(lambda r: fetch(r[1]), rows))
    out = {"packages": len(rows), "node_modules": 0, "covered": 0, "types": 0, "types_known": 0,
           "not_node_modules": [], "unfetched": [], "partial": [], "by_hand": []}
    for (rank, name, _), folder in zip(rows, folders):
        if isinstance(folder, str):
            out["unfetched"].append((name, folder))
            continue
        try:
            module = read_module(folder)
        except ModuleError as e:
            why = str(e).split(": ", 1)[-1]
            if "registerType" not in why:
                out["not_node_modules"].append((name, why))
                continue
            out["node_modules"] += 1
            types = packaged.get(name, [])
            out["types"] += len(types)
            out["types_known"] += len(types)
            if types:
                out["covered"] += 1
                out["by_hand"].append((name, len(types)))
            else:
                out["partial"].append((rank, name, ["(types registered under computed names)"]))
            continue
        out["node_modules"] += 1
        names = [t.name for t in module.types]
        missing = [t for t in names if t not in known]
        out["types"] += len(names)
        out["types_known"] += len(names) - len(missing)
        if missing:
            out["partial"].append((rank, name, missing))
        else:
            out["covered"] += 1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    m = measure()
    n = m["node_modules"]
    print(f"{m['packages']} packages listed; {n} are Node-RED node modules, "
          f"{len(m['not_node_modules'])} are not, {len(m['unfetched'])} could not be fetched")
    print(f"{m['covered']}/{n} node modules = {m['covered'] / max(n, 1):.1%} have every registered type in the catalogue; "
          f"types: {m['types_known']}/{m['types']} = {m['types_known'] / max(m['types'], 1):.1%}")
    for name, why in m["not_node_modules"]:
        print(f"  not a node module: {name} ({why})")
    for name, count in m["by_hand"]:
        print(f"  types under computed names: {name} (its catalogue file's {count} types taken as its list)")
    for name, why in m["unfetched"]:
        print(f"  not fetched: {name} ({why})")
    for rank, name, missing in m["partial"]:
        shown = ", ".join(missing) if args.verbose else f"{len(missing)} type{'s' if len(missing) != 1 else ''}"
        print(f"  #{rank} {name}: not catalogued: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
