"""Traefik routes of ``make run``'s GitHub tools demo services, beside the shipped dynamic file.

Two services share the gateway's host by path prefix (a whole segment each, as the shipped
``tools`` routes do): ``/github`` (the server exchanges the client's token itself) and
``/github-injected`` (the verifier's 200 carries the user's GitHub token as ``Authorization``,
which ForwardAuth's ``authResponseHeaders`` puts in place of the client's; when the verifier
sends none, Traefik still deletes the client's, so that token never reaches the server). Each
ForwardAuth address binds its resource, like the shipped file's; the prefix is stripped so the
servers answer at ``/mcp``. The RFC 9728 metadata of both comes through the shipped file's
``/.well-known/oauth-protected-resource/`` route (the verifier picks it by path suffix).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from .upstream_demo import EXCHANGE_PATH, INJECTED_PATH

IDENTITY = ["X-User-Id", "X-User-Name", "X-Client-Id", "X-Scopes", "X-Auth-Token", "X-User-Groups"]


def demo_routes(ports: dict[str, int]) -> str:
    """The dynamic configuration file of both demo services (JSON, which YAML reads as is)."""
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    verifier = f"127.0.0.1:{ports['verifier']}"
    config: dict[str, Any] = {"routers": {}, "middlewares": {}, "services": {}}
    for name, path, port, copy in (
        ("demo-github", EXCHANGE_PATH, ports["github_tools"], IDENTITY),
        (
            "demo-github-injected",
            INJECTED_PATH,
            ports["github_injected"],
            ["Authorization", *IDENTITY],
        ),
    ):
        resource = quote(gateway + path, safe="")
        config["routers"][name] = {
            "rule": f"Host(`127.0.0.1`) && (Path(`{path}`) || PathPrefix(`{path}/`))",
            "priority": 20,
            "middlewares": ["strip-identity", f"auth-{name}", f"strip-{name}"],
            "service": name,
        }
        config["middlewares"][f"auth-{name}"] = {
            "forwardAuth": {
                "address": f"http://{verifier}/verify?resource={resource}",
                "trustForwardHeader": False,
                "authResponseHeaders": copy,
                "maxResponseBodySize": 65536,
            }
        }
        config["middlewares"][f"strip-{name}"] = {"stripPrefix": {"prefixes": [path]}}
        config["services"][name] = {
            "loadBalancer": {"servers": [{"url": f"http://127.0.0.1:{port}"}]}
        }
    return json.dumps({"http": config}, indent=2) + "\n"
