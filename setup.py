"""Build hook: the wheel carries the demo mesh, so `meshbot demo` works wherever meshbot is
installed (a wheel in a fresh virtualenv, the image), not only in a checkout.

The demo lives at examples/demo-mesh (tests/meshgen writes it there, and the README's snapshot
examples point at it); build_py copies it into the built `bot` package as `bot/demo-mesh`, where
bot/cli.py looks first. Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DEMO_SOURCE = Path(__file__).resolve().parent / "examples" / "demo-mesh"
DEMO_TARGET = ("bot", "demo-mesh")


class BuildPyWithDemo(build_py):
    """build_py, plus the demo mesh as package data of `bot`."""

    def run(self) -> None:
        super().run()
        if not (DEMO_SOURCE / "snapshot.yaml").is_file():
            raise SystemExit(f"{DEMO_SOURCE} is missing: the wheel would ship without the demo "
                             "(an sdist must include examples/, see MANIFEST.in)")
        target = Path(self.build_lib).joinpath(*DEMO_TARGET)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(DEMO_SOURCE, target, ignore=shutil.ignore_patterns("__pycache__"))


setup(cmdclass={"build_py": BuildPyWithDemo})
