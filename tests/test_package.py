"""meshbot as a platform engineer installs it: `python -m build` makes a wheel and an sdist, the
wheel goes into a fresh virtualenv and runs the demo there, and the sdist's own tests run.

The fresh virtualenv shares nothing with the test one: it is created without site packages, and
meshbot's wheel is installed *with* its dependencies, resolved by pip from .cache/wheelhouse only
(`--no-index`; scripts/install-test-deps fills it with the wheels of the test virtualenv), so a
file missing from the wheel or a dependency missing from pyproject.toml fails here. It runs from
a temporary directory, where no checkout is at hand to hide a missing file.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = ROOT / ".cache" / "wheelhouse"
DEMO = ROOT / "examples" / "demo-mesh"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]
# The sdist's own tests run in the fresh virtualenv: the demo, the catalog, and the check that
# every generated scenario and the demo mesh are in it, byte for byte as meshgen writes them.
SDIST_TESTS = ["tests/test_demo.py", "tests/test_catalog_output.py",
               "tests/test_meshgen.py::test_committed_files_match_regeneration"]


def _clean_env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH, no virtualenv, no pip configuration of this machine (its find-links would
    add wheels the wheelhouse lacks)."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PIP_FIND_LINKS", "PIP_INDEX_URL",
            "PIP_EXTRA_INDEX_URL")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "NO_COLOR": "1", **extra}


def _run(args: list, cwd: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=_clean_env(**env))
    assert proc.returncode == 0, f"{' '.join(map(str, args))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """`python -m build`: the sdist, then the wheel built from the unpacked sdist (so the wheel
    also proves the sdist carries what the build needs). Offline: the backend is installed."""
    out = tmp_path_factory.mktemp("dist")
    # One build at a time in the source tree: setuptools stages the sdist and the egg-info
    # there, and two pytest-xdist workers building at once removed each other's files
    # ("No such file or directory"). The lock file is in the session's shared temp root.
    with open(tmp_path_factory.getbasetemp().parent / "meshbot-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT], cwd=ROOT)
    (wheel,) = out.glob("meshbot-*.whl")
    (sdist,) = out.glob("meshbot-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    """A fresh virtualenv holding the built wheel with its test extras, nothing else."""
    assert (WHEELHOUSE / ".requirements.txt").is_file(), \
        ".cache/wheelhouse is missing: run ./scripts/install-test-deps"
    path = tmp_path_factory.mktemp("venv") / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", path], cwd=path.parent)
    _run([sys.executable, "-m", "pip", "--python", path / "bin" / "python", "install", "-q",
          "--disable-pip-version-check", "--no-index", "--find-links", WHEELHOUSE,
          f"{dist['wheel']}[test]"], cwd=path.parent)
    return path


def test_wheel_ships_the_demo_mesh_the_license_and_full_metadata(dist):
    with zipfile.ZipFile(dist["wheel"]) as whl:
        names = set(whl.namelist())
        meta = Parser().parsestr(whl.read(f"meshbot-{VERSION}.dist-info/METADATA").decode())
    demo = {f"bot/demo-mesh/{p.relative_to(DEMO)}" for p in DEMO.rglob("*") if p.is_file()}
    assert demo and demo <= names, sorted(demo - names)[:5]
    assert "bot/cli.py" in names and "diagnostics/catalog.yaml" in names
    assert not any("__pycache__" in n or n.startswith(("tests/", "examples/")) for n in names)
    assert f"meshbot-{VERSION}.dist-info/licenses/LICENSE" in names
    assert meta["Version"] == VERSION
    assert meta["License-Expression"] == "Apache-2.0"
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Source", "Issues", "Changelog", "Documentation"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())
    classifiers = meta.get_all("Classifier")
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)


def test_license_is_the_apache_2_0_text():
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License")
    assert "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert "APPENDIX: How to apply the Apache License to your work." in text


def test_demo_runs_from_the_wheel_in_a_fresh_virtualenv(venv, tmp_path):
    where = _run([venv / "bin" / "python", "-c", "import bot; print(bot.__file__)"], tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(venv), "meshbot comes from the fresh venv"
    out = _run([venv / "bin" / "meshbot", "demo", "--output", "json"], tmp_path).stdout
    report = json.loads(out)
    assert report["verdict"] == "problem"
    assert [f["id"] for f in report["findings"]] == ["remote-secret-missing"]
    thread = _run([venv / "bin" / "meshbot", "demo"], tmp_path).stdout
    assert "the bundled demo mesh" in thread and "istioctl create-remote-secret" in thread


def test_version_comes_from_one_source(venv, tmp_path):
    out = _run([venv / "bin" / "meshbot", "--version"], tmp_path).stdout
    assert out.strip() == f"meshbot {VERSION}"
    from bot import __version__
    from bot.cli import main

    assert __version__ == VERSION
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0


def test_changelog_chart_and_manifests_name_the_same_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+[^\]]*)\]", changelog, flags=re.M)
    assert releases[0] == VERSION and releases[-1] == "0.1.0"
    assert "## [Unreleased]" in changelog
    chart = yaml.safe_load((ROOT / "deploy" / "helm" / "meshbot" / "Chart.yaml").read_text())
    assert chart["appVersion"] == VERSION
    kustomization = yaml.safe_load((ROOT / "deploy" / "base" / "kustomization.yaml").read_text())
    assert [i["newTag"] for i in kustomization["images"]] == [VERSION]


def test_sdist_holds_the_project_and_its_own_tests_run(dist, venv, tmp_path):
    with tarfile.open(dist["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        tar.extractall(tmp_path, filter="data")
    for needed in ("LICENSE", "CHANGELOG.md", "README.md", "setup.py", "MANIFEST.in",
                   "requirements.lock", "Dockerfile", "examples/demo-mesh/snapshot.yaml",
                   "tests/conftest.py", "tests/meshgen/__main__.py", "deploy/README.md",
                   "deploy/helm/meshbot/Chart.yaml", "deploy/helm/meshbot/files/rbac/clusterrole.yaml",
                   "deploy/monitoring/prometheusrule.yaml", "tests/promtool/alerts.test.yaml"):
        assert needed in names, needed
    assert not any("__pycache__" in n or n.startswith((".venv/", ".cache/")) for n in names)
    data = {str(p.relative_to(ROOT)) for d in ("tests/scenarios", "examples")
            for p in (ROOT / d).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert data and data <= names, sorted(data - names)[:5]

    root = tmp_path / f"meshbot-{VERSION}"
    proc = _run([venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 *SDIST_TESTS], cwd=root, timeout=600)
    assert re.search(r"\b\d+ passed\b", proc.stdout) and " failed" not in proc.stdout
