"""Write requirements.lock: meshbot's runtime dependencies, pinned to the versions installed in
the virtualenv the tests ran in (so the image runs what was tested).

    .venv/bin/python deploy/lock.py            # rewrite requirements.lock
    .venv/bin/python deploy/lock.py --check    # exit 1 when it is out of date

The set is the [project] dependencies of pyproject.toml and everything they require, with
environment markers evaluated for this interpreter (the image uses the same Python minor
version, see the Dockerfile); test extras are not in it. Run it after changing the dependencies
in pyproject.toml or upgrading the virtualenv; tests/test_deploy.py fails while a runtime
dependency is missing from the lock.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
HEADER = """\
# meshbot's runtime dependencies, pinned (the Dockerfile installs exactly these, as constraints).
# Generated from the tested virtualenv by `.venv/bin/python deploy/lock.py`; do not edit by hand.
"""


def project_requirements() -> list[Requirement]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [Requirement(r) for r in data["project"]["dependencies"]]


def _applies(req: Requirement) -> bool:
    return req.marker is None or req.marker.evaluate({"extra": ""})


def closure(requirements: list[Requirement] | None = None) -> dict[str, str]:
    """{canonical name: installed version} of the requirements and all they require."""
    todo = [r for r in (requirements or project_requirements()) if _applies(r)]
    pinned: dict[str, str] = {}
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in pinned:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{req.name} is not installed in this environment: "
                             "install meshbot (pip install -e '.[test]') first") from None
        pinned[name] = dist.version
        todo += [r for r in map(Requirement, dist.requires or []) if _applies(r)]
    return dict(sorted(pinned.items()))


def render(pins: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={version}\n" for name, version in pins.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report whether it is current")
    args = parser.parse_args(argv)
    text = render(closure())
    if args.check:
        current = LOCK.read_text(encoding="utf-8") if LOCK.exists() else ""
        if current != text:
            print(f"{LOCK.name} is out of date: run .venv/bin/python deploy/lock.py", file=sys.stderr)
            return 1
        return 0
    LOCK.write_text(text, encoding="utf-8")
    print(f"wrote {LOCK.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
