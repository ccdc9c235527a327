#!/usr/bin/env python3
"""Every synth-time upstream rule as a Markdown table: the README's "Upstream rules" section.

Usage::

    .venv/bin/python scripts/list_rules.py            # print the table
    .venv/bin/python scripts/list_rules.py --write    # refresh it in README.md (tests/test_rules.py checks it is current)
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from cdk_llm_serving._rules import all_rules

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- rules:begin (scripts/list_rules.py --write) -->", "<!-- rules:end -->"


def table() -> str:
    lines = ["| rule | what it enforces | source |", "|---|---|---|"]
    for r in sorted(all_rules(), key=lambda r: r.id):
        cell = lambda text: " ".join(text.split()).replace("|", "\\|")  # noqa: E731
        lines.append(f"| `{r.id}` | {cell(r.summary)} | {cell(r.source)} |")
    return "\n".join(lines)


def readme_table(text: str) -> str | None:
    """The table currently between the README's markers (None when the markers are missing)."""
    m = re.search(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), text, re.S)
    return m.group(1).rstrip("\n") if m else None


def write() -> None:
    text = README.read_text()
    if readme_table(text) is None:
        raise SystemExit(f"README.md lacks the markers {BEGIN} … {END}")
    README.write_text(
        re.sub(re.escape(BEGIN) + r"\n.*?" + re.escape(END), lambda _: f"{BEGIN}\n{table()}\n{END}", text, flags=re.S)
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help="refresh the table in README.md")
    if parser.parse_args().write:
        write()
    else:
        print(table())
