#!/usr/bin/env python3
"""Print every synth-time upstream rule as a Markdown table (the README's "Upstream rules" section)."""

from __future__ import annotations

from cdk_llm_serving._rules import all_rules


def table() -> str:
    lines = ["| rule | what it enforces | source |", "|---|---|---|"]
    for r in sorted(all_rules(), key=lambda r: r.id):
        lines.append(f"| `{r.id}` | {r.summary} | {r.source} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
