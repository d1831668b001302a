"""docs/deployment.md shows the shipped configs: every proxy line it shows is a line of the file
the proxy tests run, and every Traefik label it shows is one compose.yaml uses."""

from __future__ import annotations

import re
from pathlib import Path

from testsupport.compose_file import labels

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"


def doc_block(language: str, first_line: str) -> list[str]:
    doc = DEPLOYMENT_DOC.read_text()
    for block in re.findall(rf"```{language}\n(.*?)```", doc, re.S):
        if block.startswith(first_line):
            return [line.strip() for line in block.splitlines()]
    raise AssertionError(f"{DEPLOYMENT_DOC} has no {language} block starting with {first_line!r}")


def test_documented_proxy_snippets_are_the_shipped_configs() -> None:
    # Every line the deployment page shows is a line of the shipped file the proxy tests run.
    for language, first, shipped in (
        ("nginx", "server {", "deploy/nginx/authgate.conf.template"),
        ("caddyfile", "{$SITE_SCHEME:https}://", "deploy/caddy/Caddyfile"),
    ):
        lines = {line.strip() for line in (ROOT / shipped).read_text().splitlines()}
        assert set(doc_block(language, first)) <= lines, shipped


def test_documented_traefik_labels_are_those_of_compose() -> None:
    doc = DEPLOYMENT_DOC.read_text()
    section = doc.split("## Put it behind Traefik", 1)[1].split("## nginx", 1)[0]
    shown = re.findall(r"^- (traefik\.[^\n]+)$", section, re.M)
    used = {f"{key}={value}" for _, key, value in labels()}
    assert len(shown) >= 15
    assert set(shown) <= used
