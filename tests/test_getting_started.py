"""The getting-started tour, run as written: its shell blocks against a real ``make run`` stack.

The page's commands are executed with bash, in order, on the stack's ports (the page shows the
defaults); only the browser step is driven by the test (consent page, stand-in login) and the
values a reader copies by hand (client id, code, tokens) are passed as the variables the page
names.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.stack import DEFAULT_PORTS
from testsupport.browser_flow import Browser
from testsupport.devstack_run import DevstackRun
from testsupport.github_standin import standin_login

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "getting-started.md").read_text()
TOUR = PAGE.split("## A five-minute tour with curl", 1)[1]
BLOCKS = re.findall(r"```sh\n(.*?)```", TOUR, re.S)


class Tour:
    def __init__(self, ports: dict[str, int]) -> None:
        self.ports = ports
        self.vars: dict[str, str] = {}

    def run(self, index: int, then: str = "") -> str:
        """Block ``index`` on this stack's ports, followed by ``then``; lines a reader fills in
        by hand are the variables already set."""
        script = BLOCKS[index] + then
        for name, default in DEFAULT_PORTS.items():
            script = script.replace(f"127.0.0.1:{default}", f"127.0.0.1:{self.ports[name]}")
            script = script.replace(f"127.0.0.1%3A{default}", f"127.0.0.1%3A{self.ports[name]}")
        script = "\n".join(line for line in script.splitlines() if "…" not in line.split("#")[0])
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env={**os.environ, **self.vars},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


def json_values(text: str) -> list[Any]:
    """Consecutive JSON documents (curl -s prints them without a newline between)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
        while at < len(text) and text[at].isspace():
            at += 1
    return values


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tour]:
    run = DevstackRun.on_free_ports(tmp_path_factory.mktemp("tour") / ".run")
    with run.started():
        yield Tour(run.ports)


def test_the_tour_works_as_written(tour: Tour) -> None:
    assert len(BLOCKS) == 7
    refused = tour.run(0)
    assert "401 Unauthorized" in refused and "resource_metadata=" in refused

    resource, server = json_values(tour.run(1))
    assert resource["authorization_servers"] == [f"http://127.0.0.1:{tour.ports['issuer']}"]
    assert server["code_challenge_methods_supported"] == ["S256"]

    registered = json.loads(tour.run(2))
    tour.vars["CLIENT_ID"] = registered["client_id"]

    # The PKCE verifier stays in the reader's shell; the test has it printed after the URL.
    url, verifier_line = tour.run(3, then='echo "VERIFIER=$VERIFIER"').strip().splitlines()[-2:]
    tour.vars["VERIFIER"] = verifier_line.removeprefix("VERIFIER=")
    # The browser part: the consent page, Approve, the stand-in's login.
    with httpx.Client(timeout=10) as http:
        browser = Browser(f"http://127.0.0.1:{tour.ports['issuer']}", issuer=http, github=http)
        to_github = browser.consent(browser.get(url))
        landed = browser.get(standin_login(http, to_github.headers["location"], "octocat"))
    code = re.search(r"[?&]code=([^&]+)", landed.headers["location"])
    assert code is not None
    tour.vars["CODE"] = code.group(1)

    tokens = json.loads(tour.run(4))
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "mcp:*"
    tour.vars["ACCESS_TOKEN"] = tokens["access_token"]
    tour.vars["REFRESH_TOKEN"] = tokens["refresh_token"]

    called = tour.run(5)
    assert "HTTP/1.1 200" in called and "authgate-demo" in called

    first, second = json_values(tour.run(6))
    assert "access_token" in first
    assert second["error"] == "invalid_grant"
