"""The upstream rule sets: every rule has its source and at least one negative test."""

from __future__ import annotations

import re

from cdk_llm_serving._rules import all_rules
from harness import REPO

_CALL = re.compile(r"""expect_rule\(\s*["']([A-Z0-9_.]+)["']""")


def test_every_rule_names_its_source() -> None:
    for rule in all_rules():
        assert len(rule.source) > 15, f"{rule.id}: cite the API page, chart file or operator source it enforces"
        assert rule.summary, rule.id


def test_every_rule_has_a_negative_test() -> None:
    tested = {m for path in (REPO / "tests").rglob("*.py") for m in _CALL.findall(path.read_text())}
    untested = sorted(r.id for r in all_rules() if r.id not in tested)
    assert not untested, f"rules without an expect_rule(...) negative test: {untested}"
    unknown = sorted(tested - {r.id for r in all_rules()})
    assert not unknown, f"tests expect rules that are not registered: {unknown}"


def test_readme_lists_every_rule() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("list_rules", REPO / "scripts" / "list_rules.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = module.readme_table((REPO / "README.md").read_text())
    assert current == module.table(), "README's rule table is stale: run .venv/bin/python scripts/list_rules.py --write"
