"""Rule documentation, rendered from the catalogue: `hacheck explain` and the generated pages of
the documentation site (docs/rules.md, docs/rules/<ID>-<name>.md, docs/effects.md).

`python -m hacheck.reporters.docs` writes every generated page; `--check` names the stale ones.
"""

from __future__ import annotations

import json
from pathlib import Path


def _pretty(example: str) -> str:
    """One node per line: readable, and still a flow a user can paste into the editor."""
    try:
        doc = json.loads(example)
    except ValueError:
        return example.strip()
    if isinstance(doc, list):
        return "[\n" + ",\n".join("  " + json.dumps(n, ensure_ascii=False) for n in doc) + "\n]"
    return json.dumps(doc, indent=2, ensure_ascii=False)


def rule_markdown(r, heading: str = "#") -> str:
    fix = r.fix
    fix_text = f"Yes ({fix['safety']}): {fix['title']}" if fix.get("available") else "No automatic fix."
    out = [
        f"{heading} {r.id} {r.name}",
        "",
        f"Severity: {r.severity} · Category: {r.category} · Status: {r.status} · Autofix: {'yes' if r.fixable else 'no'}",
        "",
        f"{heading}# What it flags",
        r.docs["what"].strip(),
        "",
        f"{heading}# Why it breaks under HA",
        r.docs["why"].strip(),
        "",
        f"{heading}# Example that fires",
        "```json",
        _pretty(r.docs["example"]),
        "```",
        "",
        f"{heading}# Example that does not fire",
        "```json",
        _pretty(r.docs["example_ok"]),
        "```",
        "",
        f"{heading}# Use instead",
        r.docs["use_instead"].strip(),
        "",
        f"{heading}# Autofix",
        fix_text,
    ]
    out += _roles_section(r, heading)
    from hacheck.engine.directives import SINGLE_COPY_IF_UNIQUE, SINGLE_COPY_RULES

    if r.id in SINGLE_COPY_RULES:
        marked = ("a file marked as the one copy (`instance: singleton` in the configuration, or a"
                  " `hacheck-instance: singleton` line in a tab's Description, which `hacheck split` writes into its"
                  " singleton part; [docs/split.md](../split.md#the-singleton-marker))")
        if r.id in SINGLE_COPY_IF_UNIQUE:
            text = (f"On {marked} it is reported only when another broker config of the file has the same client id:"
                    " one copy's own fixed id is unique, two connections with one id still take the session in turn.")
        else:
            text = f"Not run on {marked}: what it reports happens only when several copies run."
        out += ["", f"{heading}# On a single-copy instance", text]
    if r.docs.get("known_limits"):
        out += ["", f"{heading}# Known limits", r.docs["known_limits"].strip()]
    if r.docs.get("references"):
        out += ["", f"{heading}# References"] + [f"- {ref}" for ref in r.docs["references"]]
    return "\n".join(out) + "\n"


_AXIS_WORDS = {
    "source": "Sources (where the messages start)",
    "effect": "Effects it follows the messages to",
    "host": "Bound to the host",
    "session": "Sessions",
}
MAX_TYPES = 40  # node types named per line; the rest are counted


def uses(r) -> dict:
    """The effect-catalogue roles a rule looks at: a declarative rule's from its match, a
    Python check's from its `uses:`."""
    m = r.match or {}
    found = dict(r.uses)
    if "role" in m:
        found["source"] = {"kind": m["role"]["source"], **({"class": m["role"]["class"]} if "class" in m["role"] else {})}
        where = (m.get("where") or {}).get("not") or {}
        if where.get("field") == "type" and where.get("op") == "in":
            found["source"]["except"] = list(where["value"])
    elif "reaches" in m:
        found["source"] = {"types": [m["type"]] if isinstance(m["type"], str) else list(m["type"])}
    if "reaches" in m:
        found["effect"] = {"kind": [m["reaches"]["effect"]], "ignore": m["reaches"].get("ignore", [])}
    return found


def _roles_section(r, heading: str) -> list[str]:
    spec = uses(r)
    if not spec:
        return []
    from hacheck.effects.catalogue import bundled

    cat = bundled()
    lines = ["", f"{heading}# Sources and effects",
             "From the effect catalogue (`rules/effects/`; a config's `effects:` adds your own node types):"]
    for axis, want in spec.items():
        if "types" in want:
            types = want["types"]
        else:
            types = sorted(t for t, e in cat.items() if any(
                x.get("kind") in want["kind"] and ("class" not in want or x.get("class") in want["class"])
                and x.get("class") not in want.get("ignore", ()) for x in e.get(axis, ()))
                and t not in want.get("except", ()))
        words = ", ".join(f"`{t}`" for t in types[:MAX_TYPES])
        if len(types) > MAX_TYPES:
            words += f" and {len(types) - MAX_TYPES} more"
        kinds = "/".join(want.get("kind", ())) + (f" ({', '.join(want['class'])})" if "class" in want else "")
        left = f"; not counted: {', '.join(want['ignore'])}" if want.get("ignore") else ""
        lines.append(f"- {_AXIS_WORDS[axis]}{': ' + kinds if kinds else ''}{left}: {words or '(none yet)'}")
    return lines


REGENERATE = "python -m hacheck.reporters.docs"
RULE_PAGES = "rules"  # docs/rules/<ID>-<name>.md, one page per rule


def rule_page(r) -> str:
    """The rule's own page, relative to docs/ (named like its file in rules/)."""
    return f"{RULE_PAGES}/{r.id}-{r.name}.md"


def rule_page_markdown(r) -> str:
    """One rule's page: what `hacheck explain` prints, and the way back to the list."""
    source = Path(r.source).name if r.source else f"{r.id}-{r.name}.yaml"
    return rule_markdown(r) + (
        f"\n---\n\n[All rules](../rules.md) · generated from `rules/{source}` by `{REGENERATE}`\n"
    )


def catalogue_markdown(rules) -> str:
    """The rule list. Every rule keeps a section here under its own heading: the reports link
    to docs/rules.md#<id>-<name>, and that anchor must land on the rule."""
    lines = [
        "# hacheck rules",
        "",
        f"Generated from `rules/*.yaml` by `{REGENERATE}`; a test fails when this page or a rule's page is out of date.",
        "Each rule has its own page (what it flags, why it breaks under HA, examples, what to use",
        "instead); `hacheck explain ID` prints the same text.",
        "",
        "| id | name | severity | category | autofix |",
        "|---|---|---|---|---|",
    ]
    for r in rules:
        lines.append(f"| [{r.id}]({rule_page(r)}) | {r.name} | {r.severity} | {r.category} | {'yes' if r.fixable else 'no'} |")
    lines += [
        "",
        "HC000 internal-rule-error (error) is reported by the engine when a rule crashes on a file; the other rules still run.",
    ]
    for r in rules:
        lines += [
            "",
            f"## {r.id} {r.name}",
            "",
            f"Severity: {r.severity} · Category: {r.category} · Status: {r.status} · Autofix: {'yes' if r.fixable else 'no'}",
            "",
            r.docs["what"].strip(),
            "",
            f"**Use instead:** {r.docs['use_instead'].strip()}",
            "",
            f"[{r.id} {r.name}: why it breaks under HA, examples, autofix]({rule_page(r)})",
        ]
    return "\n".join(lines) + "\n"


# --- the effect catalogue ----------------------------------------------------------------------


def _entry_lines(t: str, e: dict) -> list[str]:
    out = [e["doc"].strip()]
    if e.get("neutral"):
        out.append("- neither a source nor an effect (a transform, structure or configuration)")
    for axis in ("source", "effect", "passes", "host", "session"):
        for x in e.get(axis, ()):
            cond = f" when `{json.dumps(x['when'], ensure_ascii=False)}`" if "when" in x else ""
            if axis == "passes":
                out.append(f"- passes its input on: {'yes' if x['value'] else 'no'}{cond}")
                continue
            if x["kind"] == "none":
                out.append(f"- {axis}: none{cond}")
                continue
            cls = f" ({x['class']})" if x.get("class") and x["class"] != "none" else ""
            what = f": {x['what']}" if x.get("what") else ""
            own = "; its events are not actions of its own (its effect is what an input does)" if x.get("acts") is False else ""
            out.append(f"- {axis}: {x['kind']}{cls}{what}{own}{cond}")
    return out


def type_markdown(t: str, e: dict, heading: str = "#") -> str:
    """One node type of the effect catalogue: what it does under HA, its roles, and when."""
    return "\n".join([f"{heading} `{t}` ({e.get('package', '?')})", "", *_entry_lines(t, e)]) + "\n"


def effects_markdown(catalogue: dict[str, dict]) -> str:
    by_pkg: dict[str, list[str]] = {}
    for t, e in catalogue.items():
        by_pkg.setdefault(e.get("package", "?"), []).append(t)
    lines = [
        "# The effect catalogue",
        "",
        "Generated from `rules/effects/*.yaml` by `python -m hacheck.reporters.docs`; a test fails when",
        "this file is out of date. What each node type does to the world when every copy of an HA",
        "instance runs it: where messages start (source), what a message does on arrival (effect),",
        "whether it goes on (passes), what binds it to the host or to a session. The first entry of",
        "an axis whose condition holds applies. A config's `effects:` adds or replaces entries.",
        "",
        f"{len(catalogue)} node types in {len(by_pkg)} packages:",
        "",
    ]
    for pkg in sorted(by_pkg):
        lines.append(f"- [{pkg}](#{_anchor(pkg)}): {len(by_pkg[pkg])}")
    for pkg in sorted(by_pkg):
        lines += ["", f"## {pkg}", ""]
        for t in sorted(by_pkg[pkg]):
            lines.append(type_markdown(t, catalogue[t], "###"))
    return "\n".join(lines) + "\n"


def _anchor(text: str) -> str:
    return "".join(c for c in text.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def rule_summary(r) -> dict:
    """One rule as `hacheck rules -f json` and `hacheck serve` list it."""
    import os

    return {
        "id": r.id,
        "name": r.name,
        "severity": str(r.severity),
        "category": r.category,
        "status": r.status,
        "fixable": r.fixable,
        "fix_safety": r.fix.get("safety"),
        "source": os.path.basename(r.source),
    }


def find_rule(rules, key: str):
    """The rule named by id (any case) or name, as `hacheck explain` and `hacheck serve` take it."""
    return next((r for r in rules if r.id == key.upper() or r.name == key), None)


# --- the generated pages ------------------------------------------------------------------------


def generated_pages(rules=None, catalogue=None) -> dict[str, str]:
    """Every generated page of the documentation site: path relative to docs/ -> text."""
    if rules is None:
        from hacheck.engine.catalog import load_catalog

        rules = load_catalog()
    if catalogue is None:
        from hacheck.effects.catalogue import bundled

        catalogue = bundled()
    pages = {"rules.md": catalogue_markdown(rules), "effects.md": effects_markdown(catalogue)}
    pages.update((rule_page(r), rule_page_markdown(r)) for r in rules)
    return pages


def stale_pages(docs_dir: Path, pages: dict[str, str]) -> list[str]:
    """The pages that differ from what the catalogue gives, are missing, or belong to no rule."""
    stale = [p for p, text in pages.items() if not (docs_dir / p).is_file() or (docs_dir / p).read_text("utf-8") != text]
    rule_dir = docs_dir / RULE_PAGES
    if rule_dir.is_dir():
        stale += sorted(f"{RULE_PAGES}/{f.name}" for f in rule_dir.glob("*.md") if f"{RULE_PAGES}/{f.name}" not in pages)
    return sorted(stale)


def write_pages(docs_dir: Path, pages: dict[str, str]) -> list[str]:
    """Writes the stale pages and removes the pages of rules that no longer exist."""
    changed = stale_pages(docs_dir, pages)
    for p in changed:
        target = docs_dir / p
        if p not in pages:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", encoding="utf-8", newline="\n") as f:
            f.write(pages[p])
    return changed


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog=REGENERATE, description="Write the generated pages of the documentation site.")
    ap.add_argument("legacy", nargs="?", choices=["effects"], help="print only the effect catalogue page on stdout (as before)")
    ap.add_argument("--docs-dir", default="docs", type=Path, help="the site's sources (default: docs)")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 naming every stale page")
    a = ap.parse_args(argv)
    if a.legacy == "effects":
        from hacheck.effects.catalogue import bundled

        sys.stdout.write(effects_markdown(bundled()))
        return 0
    if not a.docs_dir.is_dir():
        print(f"{REGENERATE}: {a.docs_dir}: no such directory (run it at the top of the checkout)", file=sys.stderr)
        return 2
    pages = generated_pages()
    # messages go to stderr: the old `... > docs/rules.md` must not get them in the page
    if a.check:
        stale = stale_pages(a.docs_dir, pages)
        for p in stale:
            print(f"{a.docs_dir / p}: out of date (run `{REGENERATE}`)", file=sys.stderr)
        return 1 if stale else 0
    changed = write_pages(a.docs_dir, pages)
    print(f"{REGENERATE}: {len(pages)} generated pages, {len(changed)} written or removed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
