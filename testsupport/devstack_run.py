"""``make run`` (``python -m devstack``) as a real process for tests, on free ports.

    run = DevstackRun.on_free_ports(tmp_path / ".run")
    with run.started() as process:            # returns once the banner's last line is printed
        run.ports["gateway"], run.lines

The stand-in login is used (``GITHUB_CLIENT_ID`` removed); the proxy is make run's default
(Traefik) unless ``proxy`` names another (``DEVSTACK_PROXY``). SIGINT stops it, as Ctrl-C does,
so devstack stops its children (SIGKILL would leave them running).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from devstack.stack import DEFAULT_PORTS

from .ports import free_port

ROOT = Path(__file__).resolve().parents[1]
BANNER_END = "authgate clients list"


@dataclass
class DevstackRun:
    run_dir: Path
    ports: dict[str, int]
    proxy: str | None = None
    lines: list[str] = field(default_factory=list)

    @classmethod
    def on_free_ports(cls, run_dir: Path, proxy: str | None = None) -> DevstackRun:
        return cls(run_dir, {name: free_port() for name in DEFAULT_PORTS}, proxy)

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, "NO_COLOR": "1"}
        env.update({f"DEVSTACK_{n.upper()}_PORT": str(p) for n, p in self.ports.items()})
        env.pop("GITHUB_CLIENT_ID", None)
        env.pop("DEVSTACK_PROXY", None)
        if self.proxy is not None:
            env["DEVSTACK_PROXY"] = self.proxy
        return env

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "devstack", "--run-dir", str(self.run_dir)]

    @contextlib.contextmanager
    def started(self, timeout: float = 90) -> Iterator[subprocess.Popen[str]]:
        process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            self._read_until(process, BANNER_END, timeout)
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.communicate()

    def _read_until(self, process: subprocess.Popen[str], needle: str, timeout: float) -> None:
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        for line in process.stdout:
            self.lines.append(line.rstrip())
            if needle in line:
                return
            assert time.monotonic() < deadline, "\n".join(self.lines)
        raise AssertionError("devstack exited early:\n" + "\n".join(self.lines))
