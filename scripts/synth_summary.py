"""Print one summary line per stack of a cloud assembly (used by `make synth`)."""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path


def main(outdir: str) -> int:
    out = Path(outdir)
    manifest = json.loads((out / "manifest.json").read_text())
    stacks = {n: a for n, a in manifest["artifacts"].items() if a["type"] == "aws:cloudformation:stack"}
    if not stacks:
        print(f"no stacks in {out}", file=sys.stderr)
        return 1
    for name, art in sorted(stacks.items()):
        path = out / art["properties"]["templateFile"]
        template = json.loads(path.read_text())
        kinds = collections.Counter(r["Type"].split("::")[1] for r in template.get("Resources", {}).values())
        top = ", ".join(f"{k} {v}" for k, v in kinds.most_common(4))
        env = art.get("environment", "aws://unknown-account/unknown-region")
        print(
            f"{name}: {sum(kinds.values())} resources ({top}), {len(template.get('Outputs', {}))} outputs,"
            f" template {path.stat().st_size / 1024:.1f} KiB, {env} -> {path}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "cdk.out"))
