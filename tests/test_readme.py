"""The README's examples are what the tool prints, not a sketch of it."""

from __future__ import annotations

import json
import re

from tests.conftest import REPO, run_cli


def _json_example() -> dict:
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("### JSON output (version 1)", 1)[1]
    return json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))


def test_readme_json_example_is_the_real_output_of_the_example_flow():
    res = run_cli("check", "fixtures/example/flows.json", "-f", "json")
    assert res.returncode == 1, res.err
    real = json.loads(res.out)
    shown = _json_example()
    assert shown["findings"], "the example shows at least one finding"
    for f in shown["findings"]:
        assert f in real["findings"]
    assert {k: v for k, v in shown.items() if k != "findings"} == {k: v for k, v in real.items() if k != "findings"}
    assert shown["summary"]["error"] + shown["summary"]["warning"] == len(real["findings"])
