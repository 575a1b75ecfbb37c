"""Regenerate (or check) every scenario folder and the demo mesh.

    python -m tests.meshgen --out tests/scenarios --demo examples/demo-mesh
    python -m tests.meshgen --out tests/scenarios --demo examples/demo-mesh --check

`--check` renders in memory and compares with the files on disk; it exits 1 and names the
drifting files when they differ, so CI can catch hand edits or a stale regeneration.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import yaml

from tests.meshgen.render import read_tree, render_files, write_files
from tests.meshgen.scenarios import SCENARIOS, build


def expected_trees(names: list[str], demo: bool) -> dict[str, dict[str, str]]:
    """Rendered files per target: `scenario:<name>` → files relative to that folder."""
    trees: dict[str, dict[str, str]] = {}
    for name in names:
        mesh, expected = build(name)
        files = {f"snapshot/{k}": v for k, v in render_files(mesh).items()}
        files["expected.yaml"] = dump_yaml_ordered(expected.as_dict())
        trees[f"scenario:{name}"] = files
    if demo:
        trees["demo"] = render_files(build("demo")[0])
    return trees


def dump_yaml_ordered(d: dict) -> str:
    """expected.yaml keeps the contract's key order (description first) for people reading it."""
    return yaml.safe_dump(d, sort_keys=False, width=10000, allow_unicode=True,
                          default_flow_style=None)


def _target_dir(key: str, out: Path, demo: Path | None) -> Path:
    if key == "demo":
        assert demo is not None
        return demo
    return out / key.split(":", 1)[1]


def _drift(want: dict[str, str], have: dict[str, str]) -> list[str]:
    missing = [f"missing {p}" for p in want if p not in have]
    extra = [f"unexpected {p}" for p in have if p not in want]
    changed = [f"differs {p}" for p in want if p in have and have[p] != want[p]]
    return missing + extra + changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.meshgen", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/scenarios", type=Path)
    ap.add_argument("--demo", type=Path, default=None, help="also write the demo snapshot here")
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    ap.add_argument("--only", nargs="*", help="scenario names (default: all)")
    args = ap.parse_args(argv)
    names = args.only or sorted(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(unknown)}")
    trees = expected_trees(names, args.demo is not None)
    problems: list[str] = []
    for key, files in trees.items():
        target = _target_dir(key, args.out, args.demo)
        if args.check:
            problems += [f"{target}: {d}" for d in _drift(files, read_tree(target))]
        else:
            write_files(files, target)
    if not args.only and args.out.exists():
        for d in sorted(p for p in args.out.iterdir() if p.is_dir()):
            if d.name not in SCENARIOS and (d / "expected.yaml").exists():
                if args.check:
                    problems.append(f"{d}: not a registered scenario")
                else:
                    shutil.rmtree(d)
    if args.check:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"{len(trees)} target(s) checked, {len(problems)} difference(s)")
        return 1 if problems else 0
    print(f"wrote {len(trees)} target(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
