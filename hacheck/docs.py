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
    if r.docs.get("known_limits"):
        out += ["", f"{heading}# Known limits", r.docs["known_limits"].strip()]
    if r.docs.get("references"):
        out += ["", f"{heading}# References"] + [f"- {ref}" for ref in r.docs["references"]]
    return "\n".join(out) + "\n"


def catalogue_markdown(rules) -> str:
    lines = [
        "# hacheck rules",
        "",
        "Generated from `rules/*.yaml` by `python -m hacheck.docs`; a test fails when this file is out of date.",
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


if __name__ == "__main__":  # python -m hacheck.docs > docs/rules.md
    import sys

    from hacheck.catalog import load_catalog

    sys.stdout.write(catalogue_markdown(load_catalog()))
