"""The npm programs the tests drive, installed by ``scripts/npm-tools`` into ``.tools/npm``.

    node = node_binary()                      # Node 22 from the npm registry's node-linux-<arch>
    script = package_file("@modelcontextprotocol/conformance", "dist/index.js")
    subprocess.run([node, str(script), ...], env=node_env())

``scripts/npm-tools`` is idempotent (a stamp holds the manifest's hash), so the first test that
needs these programs installs them when ``make test`` has not already done so.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / ".tools" / "npm" / "node_modules"
INSTALL_TIMEOUT = 600


@functools.cache
def installed_modules() -> Path:
    """``.tools/npm/node_modules``, installed at the pinned versions (once per test process)."""
    subprocess.run([str(ROOT / "scripts" / "npm-tools")], check=True, timeout=INSTALL_TIMEOUT)
    return MODULES


def node_binary() -> str:
    return str(installed_modules() / ".bin" / "node")


def package_file(package: str, relative: str) -> Path:
    path = installed_modules() / package / relative
    assert path.is_file(), f"{path} is missing: the pinned npm package changed its layout?"
    return path


def node_env(**overrides: str) -> dict[str, str]:
    """This environment with Node 22 first on PATH (programs that spawn ``node`` get it too)."""
    path = os.pathsep.join([str(Path(node_binary()).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "NO_COLOR": "1", **overrides}
