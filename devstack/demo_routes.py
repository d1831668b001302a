"""Routes of ``make run``'s GitHub tools demo services: Traefik's beside the shipped dynamic
file, and the nginx locations and Caddy handlers the devstack configs of ``proxy/`` include.

Two services share the gateway's host by path prefix (a whole segment each, as the shipped
``tools`` routes do): ``/github`` (the server exchanges the client's token itself) and
``/github-injected`` (the verifier's 200 carries the user's GitHub token as ``Authorization``,
which the proxy puts in place of the client's; when the verifier sends none, the client's is
still deleted, so that token never reaches the server). Each auth address binds its resource,
like the shipped configs'; the prefix is stripped so the servers answer at ``/mcp``. The RFC 9728
metadata of both comes through each config's ``/.well-known/oauth-protected-resource/`` route
(the verifier picks it by path suffix).
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


def _services(ports: dict[str, int]) -> list[tuple[str, str, str, bool]]:
    """(name, path prefix, upstream host:port, injected) of each demo service."""
    return [
        ("github", EXCHANGE_PATH, f"127.0.0.1:{ports['github_tools']}", False),
        ("github_injected", INJECTED_PATH, f"127.0.0.1:{ports['github_injected']}", True),
    ]


def nginx_routes(ports: dict[str, int]) -> str:
    """Locations of both demo services for the devstack nginx server (included in its server
    block): as its ``location /``, each with its own auth address, the prefix rewritten away;
    the injected one puts the verifier's Authorization in place of the client's (an empty value
    drops the header, so the client's never passes)."""
    host = f"127.0.0.1:{ports['gateway']}"
    blocks = []
    for name, path, upstream, injected in _services(ports):
        resource = quote(f"http://{host}{path}", safe="")
        copy = [(h.lower().replace("-", "_"), h) for h in IDENTITY]
        if injected:
            copy.insert(0, ("authorization", "Authorization"))
        sets = "".join(
            f"        auth_request_set $authgate_{var} $upstream_http_{var};\n"
            f"        proxy_set_header {header} $authgate_{var};\n"
            for var, header in copy
        )
        blocks.append(
            f"""    location = /_authgate_{name} {{
        internal;
        proxy_pass http://authgate_verifier/verify?resource={resource};
        proxy_pass_request_body off;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Content-Length "";
        proxy_set_header X-Forwarded-Method $request_method;
        proxy_set_header X-Forwarded-Proto http;
        proxy_set_header X-Forwarded-Host {host};
        proxy_set_header X-Forwarded-Uri $request_uri;
    }}
    location ~ ^{path}(?:/|$) {{
        auth_request /_authgate_{name};
{sets}        auth_request_set $authgate_www $upstream_http_www_authenticate;
        error_page 403 = @forbidden;
        error_page 500 = @unavailable;
        rewrite ^{path}/?(.*)$ /$1 break;
        proxy_pass http://{upstream};
        proxy_set_header Host {host};
        proxy_set_header X-Forwarded-Proto http;
        proxy_set_header X-Forwarded-Host {host};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_buffering off;
        proxy_read_timeout 1h;
    }}
"""
        )
    return "# Written by make run (devstack.demo_routes).\n" + "".join(blocks)


def caddy_routes(ports: dict[str, int]) -> str:
    """Handlers of both demo services for the devstack Caddy site (imported before its catch-all
    ``handle``), built like it: every client spelling of the identity headers deleted, the
    verifier's copied (Authorization too for the injected one), Caddy 2.6's placeholder text of
    a header the verifier did not send deleted, the prefix stripped."""
    host = f"127.0.0.1:{ports['gateway']}"
    verifier = f"127.0.0.1:{ports['verifier']}"
    strip = "".join(f"\t\trequest_header -{s}\n" for h in IDENTITY for s in _spellings(h))
    blocks = []
    for name, path, upstream, injected in _services(ports):
        resource = quote(f"http://{host}{path}", safe="")
        copy = (["Authorization"] if injected else []) + IDENTITY
        unset = "".join(
            f"\t\t@unset_{name}_{i} header_regexp {h} ^\\{{http\\.reverse_proxy\\.header\\.\n"
            f"\t\trequest_header @unset_{name}_{i} -{h}\n"
            for i, h in enumerate(copy)
        )
        blocks.append(
            f"@{name} path {path} {path}/*\n"
            f"handle @{name} {{\n\troute {{\n{strip}"
            f"\t\tforward_auth {verifier} {{\n"
            f"\t\t\turi /verify?resource={resource}\n"
            f"\t\t\theader_up X-Forwarded-Host {host}\n"
            f"\t\t\tcopy_headers {' '.join(copy)}\n\t\t}}\n"
            f"{unset}\t\turi strip_prefix {path}\n"
            f"\t\treverse_proxy {upstream} {{\n\t\t\theader_up X-Forwarded-Host {host}\n\t\t}}\n"
            "\t}\n}\n"
        )
    return "# Written by make run (devstack.demo_routes).\n" + "".join(blocks)


def _spellings(header: str) -> list[str]:
    """Every "-"/"_" mix of ``header``: Caddy keeps the client's spelling, and a CGI/WSGI
    upstream reads X_User_Id as X-User-Id (a delete ignores case)."""
    words = header.split("-")
    mixes = [words[0]]
    for word in words[1:]:
        mixes = [f"{m}{sep}{word}" for m in mixes for sep in ("-", "_")]
    return mixes
