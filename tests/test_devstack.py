"""``make run`` (``python -m devstack``) as a user runs it: it starts, prints the URLs and the
line to try, that line answers 401 with the verifier's challenge, and Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devstack.stack import DEFAULT_PORTS
from testsupport.ports import free_port

ROOT = Path(__file__).resolve().parents[1]


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        lines.append(line.rstrip())
        if needle in line:
            return lines
        assert time.monotonic() < deadline, "\n".join(lines)
    raise AssertionError("devstack exited early:\n" + "\n".join(lines))


def test_make_run_starts_everything_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    ports = {name: free_port() for name in DEFAULT_PORTS}
    env = {**os.environ, "NO_COLOR": "1"}
    env.update({f"DEVSTACK_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.pop("GITHUB_CLIENT_ID", None)
    run_dir = tmp_path / ".run"
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--run-dir", str(run_dir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = wait_for_line(process, "authgate clients list", timeout=90)
        gateway = f"http://127.0.0.1:{ports['gateway']}/mcp"
        shown = [line for line in lines if line.startswith("devstack")]
        assert any(line.endswith(f"  curl -i {gateway}") for line in shown), shown
        assert any(line.startswith("issuer   | ") for line in lines)
        response = httpx.get(gateway, timeout=10)
        assert response.status_code == 401
        metadata = f"http://127.0.0.1:{ports['gateway']}/.well-known/oauth-protected-resource"
        assert response.headers["www-authenticate"] == f'Bearer resource_metadata="{metadata}"'
        assert httpx.get(metadata, timeout=10).json()["authorization_servers"] == [
            f"http://127.0.0.1:{ports['issuer']}"
        ]
        assert (run_dir / "redis" / "appendonlydir").is_dir()
        # Redis's and the proxy's own output goes to their log files, not the terminal.
        assert not any(line.startswith(("redis ", "caddy ", "nginx ")) for line in lines), lines
        assert (run_dir / "logs" / "redis.log").read_text()
        # The admin CLI, run from the checkout with nothing exported, finds this stack.
        cli_env = {k: v for k, v in env.items() if not k.startswith(("REDIS_", "KEYS_DIR"))}
        listed = subprocess.run(
            [sys.executable, "-m", "authgate_issuer.admin", "tokens", "stats"],
            cwd=tmp_path,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        keys = subprocess.run(
            [sys.executable, "-m", "authgate_issuer.admin", "keys", "list"],
            cwd=tmp_path,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert keys.returncode == 0 and " current " in keys.stdout, keys
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        assert process.returncode == 0, rest
        assert "SIGINT: stopping everything" in rest
        for port in ports.values():
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                raise AssertionError(f"something still listens on {port}")
            except httpx.TransportError:
                pass
    finally:
        # SIGINT first: devstack then stops its children, which SIGKILL would leave running.
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def test_make_run_names_the_variable_of_a_busy_port_and_starts_nothing(tmp_path: Path) -> None:
    ports = {name: free_port() for name in DEFAULT_PORTS}
    env = {**os.environ, "NO_COLOR": "1"}
    env.update({f"DEVSTACK_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.pop("GITHUB_CLIENT_ID", None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports["gateway"]))
        taken.listen()
        done = subprocess.run(
            [sys.executable, "-m", "devstack", "--run-dir", str(tmp_path / ".run")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"port {ports['gateway']} (gateway) is in use" in done.stdout
    assert "DEVSTACK_GATEWAY_PORT" in done.stdout
    assert not (tmp_path / ".run").exists()
