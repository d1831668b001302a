"""The official MCP conformance suite (npm ``@modelcontextprotocol/conformance``) against an
authorization server, with the login done by a test user agent.

The suite's ``authorization`` command checks the server's metadata, then prints an authorization
URL ("Access the following URL in your browser ...") and waits for the redirect on its own
callback server (``http://127.0.0.1:<port>/callback``) before redeeming the code at the token
endpoint. Here the printed URL goes to ``user_agent`` (consent page, then the GitHub stand-in,
as a browser would); the callback it ends on is fetched, which hands the code to the suite.

    run = run_authorization_suite(
        issuer_url, client_id=cid, resource=RESOURCE_A, spec_version="2025-11-25",
        port=port, out_dir=tmp_path, user_agent=lambda url: log_in(issuer_url, url),
    )
    run.status("authorization-code-grant")    # "SUCCESS", "WARNING", "FAILURE", "SKIPPED"
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .browser_flow import Browser
from .github_standin import standin_login
from .npm_tools import node_binary, node_env, package_file

PACKAGE = "@modelcontextprotocol/conformance"
CHECKS = (
    "authorization-server-metadata",
    "authorization-server-metadata-cimd",
    "authorization-code-grant",
)


@dataclass
class SuiteRun:
    exit_code: int
    output: str
    checks: list[dict[str, Any]]
    """Every check of every scenario, as the suite wrote them (``checks.json``)."""

    def status(self, check_id: str) -> str:
        found = [c for c in self.checks if c["id"] == check_id]
        assert len(found) == 1, f"{check_id}: {len(found)} results\n{self.output}"
        return str(found[0]["status"])

    def summary(self) -> dict[str, str]:
        """Check id -> status, with the error message of anything that is not SUCCESS."""
        return {
            c["id"]: c["status"] + (f": {c['errorMessage']}" if c.get("errorMessage") else "")
            for c in self.checks
        }


def log_in(issuer_url: str, authorize_url: str, login: str = "octocat") -> str:
    """What the user's browser does with ``authorize_url``: Approve on the consent page, sign
    in on the stand-in; returns the redirect to the client (its callback URL with the code)."""
    browser = Browser(issuer_url)
    page = browser.get(authorize_url)
    assert page.status_code == 200, f"no consent page: {page.status_code} {page.text[:500]}"
    response = browser.consent(page)
    assert response.status_code in (302, 303), response.text
    callback = standin_login(browser.github, response.headers["location"], login)
    response = browser.get(callback)
    assert response.status_code == 302, response.text
    return str(response.headers["location"])


def _lines(stream: Any, into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))
    into.put(None)


def _results(out_dir: Path) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    for path in sorted(out_dir.glob("authorization-server-*/checks.json")):
        checks += json.loads(path.read_text())
    return checks


def run_authorization_suite(
    issuer_url: str,
    *,
    client_id: str,
    resource: str,
    spec_version: str,
    port: int,
    out_dir: Path,
    user_agent: Callable[[str], str],
    timeout: float = 90.0,
) -> SuiteRun:
    """Run every authorization-server scenario of the suite for ``spec_version``; the client
    must accept ``http://127.0.0.1:<port>/callback`` as redirect URI."""
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [node_binary(), str(package_file(PACKAGE, "dist/index.js")), "authorization"]
    args += ["--url", issuer_url, "--client-id", client_id, "--resource", resource]
    args += ["--port", str(port), "--spec-version", spec_version, "--output-dir", str(out_dir)]
    process = subprocess.Popen(
        args,
        cwd=out_dir,
        env=node_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    output: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "the conformance suite did not finish:\n" + "\n".join(output)
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                break
            output.append(line)
            if line.startswith(issuer_url) and "response_type=code" in line:
                callback = user_agent(line)
                assert callback.startswith(f"http://127.0.0.1:{port}/callback?"), callback
                answer = httpx.get(callback, timeout=10)
                assert answer.status_code == 200, answer.text
        code = process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return SuiteRun(code, "\n".join(output), _results(out_dir))
