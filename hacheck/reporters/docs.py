"""Rule documentation, rendered from the catalogue: `hacheck explain` and docs/rules.md."""

from __future__ import annotations

import json


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


def catalogue_markdown(rules) -> str:
    lines = [
        "# hacheck rules",
        "",
        "Generated from `rules/*.yaml` by `python -m hacheck.reporters.docs`; a test fails when this file is out of date.",
        "",
        "| id | name | severity | category | autofix |",
        "|---|---|---|---|---|",
    ]
    for r in rules:
        lines.append(f"| [{r.id}](#{r.doc_anchor}) | {r.name} | {r.severity} | {r.category} | {'yes' if r.fixable else 'no'} |")
    lines += [
        "",
        "HC000 internal-rule-error (error) is reported by the engine when a rule crashes on a file; the other rules still run.",
        "",
    ]
    for r in rules:
        lines.append(rule_markdown(r, heading="##"))
    return "\n".join(lines)


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
        "Generated from `rules/effects/*.yaml` by `python -m hacheck.reporters.docs effects`; a test fails when",
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


if __name__ == "__main__":  # python -m hacheck.reporters.docs > docs/rules.md
    import sys

    if sys.argv[1:] == ["effects"]:  # python -m hacheck.reporters.docs effects > docs/effects.md
        from hacheck.effects.catalogue import bundled

        sys.stdout.write(effects_markdown(bundled()))
    else:
        from hacheck.engine.catalog import load_catalog

        sys.stdout.write(catalogue_markdown(load_catalog()))


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
