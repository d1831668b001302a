"""What ships: the wheels and images hold production code only (no dev login, no tests)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "shared": "authgate_shared",
    "services/issuer": "authgate_issuer",
    "services/verifier": "authgate_verifier",
}


def build_wheel(project: str, out: Path) -> zipfile.ZipFile:
    # hatchling (a pinned dev dependency) builds in-process: offline, no build isolation
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=ROOT / project,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


@pytest.mark.parametrize("project", sorted(PACKAGES))
def test_wheel_holds_only_its_package(project: str, tmp_path: Path) -> None:
    package = PACKAGES[project]
    with build_wheel(project, tmp_path) as wheel:
        names = wheel.namelist()
        entry_points = next(
            (wheel.read(n).decode() for n in names if n.endswith("dist-info/entry_points.txt")), ""
        )
    assert any(n.startswith(f"{package}/") for n in names)
    strays = [
        n
        for n in names
        if not (n.startswith(f"{package}/") or re.match(rf"{package}-[^/]+\.dist-info/", n))
    ]
    assert strays == []
    code = [n for n in names if n.startswith(f"{package}/")]
    assert [n for n in code if "devlogin" in n or "standin" in n] == []
    assert [n for n in code if "/tests/" in n or n.rsplit("/", 1)[-1].startswith("test_")] == []
    assert [n for n in code if "conftest" in n or "testsupport" in n or "devstack" in n] == []
    assert "standin" not in entry_points and "devlogin" not in entry_points


def test_issuer_wheel_has_no_github_standin(tmp_path: Path) -> None:
    with build_wheel("services/issuer", tmp_path) as wheel:
        names = wheel.namelist()
    assert "authgate_issuer/__main__.py" in names
    assert "authgate_issuer/login/github.py" in names or any(
        n.startswith("authgate_issuer/login/") for n in names
    )
    assert not any("devlogin" in n or "github_standin" in n for n in names)


@pytest.mark.parametrize("service", ["issuer", "verifier"])
def test_dockerfile_installs_only_production_code(service: str) -> None:
    text = (ROOT / "services" / service / "Dockerfile").read_text()
    lines = [line.strip() for line in text.replace("\\\n", " ").splitlines()]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) == 2
    copies = [line.split()[1:] for line in lines if line.startswith("COPY ")]
    build_copies = [c for c in copies if not c[0].startswith("--from=")]
    # the build stage gets the pins, the shared package and this service, nothing else
    assert sorted(c[0] for c in build_copies) == sorted(
        ["constraints.txt", "shared", f"services/{service}"]
    )
    # the final image gets only the virtualenv built from them
    assert [c for c in copies if c[0].startswith("--from=")] == [
        ["--from=build", "/opt/venv", "/opt/venv"]
    ]
    (install,) = [line for line in lines if "pip install" in line and "./shared" in line]
    targets = [word for word in install.split() if word.startswith("./")]
    assert targets == ["./shared", f"./services/{service}"]  # built as wheels, not editable
    assert " -e " not in install
    assert "devstack" not in text and "testsupport" not in text and "devlogin" not in text
