"""The shipped proxy configs (``deploy/``) against the review's proxy-side findings, through real
Traefik, nginx and Caddy processes in front of the real issuer and verifier.

The example gateway: ``mcp-a.example.com``, and ``tools.example.com`` with ``/github`` and
``/jira``, each service its own recording upstream, so every test can say which upstream (if
any) a request reached. The proxies listen on plain http while the resources are ``https://``,
as behind a TLS-terminating balancer (finding 10). Requests whose path spelling matters are sent
as raw request lines: an HTTP client would normalise them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from testsupport.echo_upstream import EchoUpstream, Received
from testsupport.gateway import Gateway, running_gateway
from testsupport.proxies import (
    GITHUB,
    JIRA,
    MCP_A,
    MCP_A_HOST,
    PRM_PATH,
    PROXIES,
    SHIPPED,
    TOOLS_HOST,
    ProxyProcess,
    render_nginx,
)

SERVICES = ("mcp_a", "github", "jira")
# Per path spelling and proxy: where the proxy routes it on tools.example.com. "jira"/"github":
# that service's route (and decision); a number: the proxy answers it itself, nothing proxied.
# Whatever the route, the jira upstream must never serve a token that is not valid for jira.
J, G = "jira", "github"
ROUTES: dict[str, tuple[str | int, str | int, str | int]] = {
    #                                   traefik nginx caddy
    "/%6Aira/x": (J, J, J),
    "/j%69ra/x": (J, J, J),
    "/jir%61/x": (J, J, J),
    "/%4aira/x": (404, 404, J),  # "/Jira": Caddy matches paths case-insensitively
    "/jira;x": (404, 404, 404),
    "/jira%3bx": (404, 404, 404),
    "/jiraX": (404, 404, 404),
    "/JIRA/x": (404, 404, J),
    "/Jira/x": (404, 404, J),
    "/jira%2fx": (404, J, J),  # Traefik keeps an encoded slash encoded when routing
    "/JIRA%2fx": (404, 404, J),
    "/%2fjira/x": (404, J, J),
    "/github/../jira/x": (J, J, J),
    "/github/%2e%2e/jira/x": (J, J, J),
    "/github/.%2e/jira/x": (J, J, J),
    "/github/..%2fjira": (G, J, J),
    "/github%2f..%2fjira/x": (404, J, J),
    "/github/..%5cjira": (G, G, G),
    "/github\\..\\jira": (404, 404, 404),
    "/github/..;/jira/x": (G, G, G),
    "/github/..%252fjira": (G, G, G),
    "/jira/%2e%2e/github/x": (G, G, G),
    "//jira/x": (J, J, J),
    "/./jira/x": (J, J, J),
    "/jira%00/x": (404, 400, 404),
    f"http://{TOOLS_HOST}/jira/x": (J, J, J),  # absolute-form request target
}
IDENTITY = {
    "X-User-Id": "github|octocat",
    "X-User-Name": "octocat",
    "X-Client-Id": "test-client",
    "X-Scopes": "mcp:*",
}


@dataclass
class Upstreams:
    by_name: dict[str, EchoUpstream]

    def counts(self) -> dict[str, int]:
        return {name: len(u.received) for name, u in self.by_name.items()}

    def reached_since(self, before: dict[str, int]) -> list[str]:
        return [name for name, count in self.counts().items() if count > before[name]]


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    started = {name: EchoUpstream().start() for name in SERVICES}
    yield Upstreams(started)
    for upstream in started.values():
        upstream.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, upstreams: Upstreams) -> Iterator[Gateway]:
    # FORWARD_AUTH_TOKEN_HEADER=true: the verifier then sends every identity header, so each one
    # has a value of its own that no client spelling may add to.
    env = {"REQUIRED_SCOPES": "*=mcp:*", "FORWARD_AUTH_TOKEN_HEADER": "true"}
    ports = {name: u.port for name, u in upstreams.by_name.items()}
    with running_gateway(
        tmp_path_factory.mktemp("routing"), upstreams=ports, verifier_env=env
    ) as gateway:
        assert set(gateway.proxies) == set(PROXIES), "every proxy must be installed"
        yield gateway


@pytest.fixture(scope="module")
def tokens(gw: Gateway) -> dict[str, str]:
    """Tokens bound to one resource each; ``tools`` and ``mcp-z`` are not services of this
    gateway (the issuer would refuse them; minted directly, which is the point)."""
    resources = {
        "github": GITHUB,
        "jira": JIRA,
        "mcp_a": MCP_A,
        "tools": f"https://{TOOLS_HOST}",
        "mcp-z": "https://mcp-z.example.com",
    }
    return {name: gw.mint(resource).token for name, resource in resources.items()}


def status(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:80]
    return int(response.split(b" ", 2)[1])


def header(response: bytes, name: str) -> list[str]:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return [
        line.split(":", 1)[1].strip()
        for line in head
        if line.lower().startswith(name.lower() + ":")
    ]


# Finding 1: a path spelling never buys another service's decision.


@pytest.mark.parametrize("token_name", ["github", "tools"])
@pytest.mark.parametrize("path", sorted(ROUTES))
@pytest.mark.parametrize("proxy", PROXIES)
def test_path_spellings_reach_only_the_service_they_are_routed_to(
    gw: Gateway,
    upstreams: Upstreams,
    tokens: dict[str, str],
    proxy: str,
    path: str,
    token_name: str,
) -> None:
    route = ROUTES[path][PROXIES.index(proxy)]
    before = upstreams.counts()
    answer = gw.raw(proxy, TOOLS_HOST, path, token=tokens[token_name])
    reached = upstreams.reached_since(before)
    assert "jira" not in reached, f"{proxy} let a {token_name} token reach jira via {path}"
    if isinstance(route, int):
        assert (status(answer), reached) == (route, [])
    elif route == "github" and token_name == "github":
        # Routed to github, so judged for github: the github token is valid there.
        assert (status(answer), reached) == (200, ["github"])
    else:
        # The route's own decision: the token is not valid for this service.
        assert (status(answer), reached) == (401, [])
        challenge = header(answer, "WWW-Authenticate")
        assert challenge and f'{PRM_PATH}/{route}"' in challenge[0], challenge


@pytest.mark.parametrize("proxy", PROXIES)
def test_each_token_opens_its_own_service_only(
    gw: Gateway, upstreams: Upstreams, tokens: dict[str, str], proxy: str
) -> None:
    cases = [
        ("github", TOOLS_HOST, "/github/mcp", 200, "github"),
        ("jira", TOOLS_HOST, "/jira/mcp", 200, "jira"),
        ("jira", TOOLS_HOST, "/jira", 200, "jira"),
        ("jira", TOOLS_HOST, "/github/mcp", 401, None),
        ("github", TOOLS_HOST, "/jira/mcp", 401, None),
        ("tools", TOOLS_HOST, "/github/mcp", 401, None),  # gateway-wide for the host: refused
        ("mcp_a", MCP_A_HOST, "/mcp", 200, "mcp_a"),
        ("mcp_a", TOOLS_HOST, "/jira/mcp", 401, None),
        ("jira", MCP_A_HOST, "/mcp", 401, None),
        ("github", TOOLS_HOST, "/", 404, None),  # no service at the host's root
    ]
    for token_name, host, path, expected, upstream in cases:
        before = upstreams.counts()
        answer = gw.raw(proxy, host, path, token=tokens[token_name])
        reached = upstreams.reached_since(before)
        assert (status(answer), reached) == (expected, [upstream] if upstream else []), (
            token_name,
            host,
            path,
        )
        if upstream:
            assert upstreams.by_name[upstream].last().path == path


# Finding 3: the client's Host never picks a service this gateway does not serve.


@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize(
    ("host", "target"),
    [
        ("mcp-z.example.com", "/mcp"),
        ("MCP-Z.example.com:80", "/mcp"),
        (MCP_A_HOST, "http://mcp-z.example.com/mcp"),  # absolute form wins over Host
        ("127.0.0.1", "/mcp"),
        ("", "/mcp"),
    ],
)
def test_unknown_hosts_are_refused_by_the_proxy(
    gw: Gateway, upstreams: Upstreams, tokens: dict[str, str], proxy: str, host: str, target: str
) -> None:
    before = upstreams.counts()
    answer = gw.raw(proxy, host, target, token=tokens["mcp-z"])
    assert upstreams.reached_since(before) == []
    # Traefik: no router matches (404); nginx and Caddy: the refusing default (421), or 400 for
    # a request without a usable Host.
    assert status(answer) in {"traefik": {404}, "nginx": {421, 400}, "caddy": {421}}[proxy]


# Finding 9: no spelling of an identity header gets past the proxy.


def spellings(name: str) -> Iterator[str]:
    """Every mix of "-" and "_" between the words of ``name``, each in three cases."""
    words = name.split("-")
    for separators in itertools.product("-_", repeat=len(words) - 1):
        spelled = words[0] + "".join(s + w for s, w in zip(separators, words[1:], strict=True))
        yield from dict.fromkeys((spelled, spelled.lower(), spelled.upper()))


def wsgi_environ(received: Received) -> dict[str, list[str]]:
    """The request's headers as a CGI/WSGI server names them (PEP 3333: HTTP_ + upper-case,
    "-" -> "_"), every value kept: two spellings landing on one key would both be here."""
    environ: dict[str, list[str]] = {}
    for name, value in received.headers:
        environ.setdefault("HTTP_" + name.upper().replace("-", "_"), []).append(value)
    return environ


@pytest.mark.parametrize("proxy", PROXIES)
def test_client_sent_identity_headers_never_reach_the_upstream(
    gw: Gateway, upstreams: Upstreams, tokens: dict[str, str], proxy: str
) -> None:
    sent = [
        (spelled, f"spoofed-{i}")
        for i, spelled in enumerate(
            s for name in (*IDENTITY, "X-Auth-Token") for s in spellings(name)
        )
    ]
    names = [spelled for spelled, _ in sent]
    assert len(names) == 4 * 4 * 3 + 2 * 3 and {"X_User_Id", "x-user_id", "X_SCOPES"} <= set(names)
    before = upstreams.counts()
    answer = gw.raw(proxy, MCP_A_HOST, "/mcp", token=tokens["mcp_a"], headers=sent)
    assert status(answer) == 200 and upstreams.reached_since(before) == ["mcp_a"]
    received = upstreams.by_name["mcp_a"].last()
    assert not [h for h in received.headers if h[1].startswith("spoofed-")], received.headers
    environ = wsgi_environ(received)
    for name, value in IDENTITY.items():
        assert environ["HTTP_" + name.upper().replace("-", "_")] == [value]
    assert environ["HTTP_X_AUTH_TOKEN"] == [tokens["mcp_a"]]


# Finding 10 and the metadata a client discovers through each proxy.


@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize(
    ("host", "suffix", "resource"),
    [(MCP_A_HOST, "", MCP_A), (TOOLS_HOST, "/github", GITHUB), (TOOLS_HOST, "/jira", JIRA)],
)
def test_metadata_and_challenges_name_the_https_resource(
    gw: Gateway, upstreams: Upstreams, proxy: str, host: str, suffix: str, resource: str
) -> None:
    metadata = gw.get(proxy, host, PRM_PATH + suffix)
    assert metadata.status_code == 200, metadata.text
    assert metadata.json()["resource"] == resource
    assert metadata.json()["authorization_servers"] == [gw.stack.issuer_url]
    before = upstreams.counts()
    challenge = gw.get(proxy, host, suffix + "/mcp")
    assert challenge.status_code == 401 and upstreams.reached_since(before) == []
    url = f"https://{host}{PRM_PATH}{suffix}"
    (value,) = challenge.headers.get_list("www-authenticate")
    assert value.startswith(f'Bearer resource_metadata="{url}"'), value


@pytest.mark.parametrize("proxy", PROXIES)
def test_step_up_challenge_survives_every_proxy(
    gw: Gateway, upstreams: Upstreams, proxy: str
) -> None:
    narrow = gw.mint(JIRA, scope="mcp:read").token
    before = upstreams.counts()
    answer = gw.get(proxy, TOOLS_HOST, "/jira/mcp", token=narrow)
    assert answer.status_code == 403 and upstreams.reached_since(before) == []
    (challenge,) = answer.headers.get_list("www-authenticate")
    assert 'error="insufficient_scope"' in challenge and 'scope="mcp:*"' in challenge
    assert f'resource_metadata="{JIRA.replace("/jira", PRM_PATH + "/jira")}"' in challenge


@pytest.mark.parametrize("proxy", PROXIES)
def test_issuer_host_serves_only_public_endpoints(gw: Gateway, proxy: str) -> None:
    discovery = gw.get(proxy, "auth.example.com", "/.well-known/oauth-authorization-server")
    assert discovery.status_code == 200 and discovery.json()["issuer"] == gw.stack.issuer_url
    assert gw.get(proxy, "auth.example.com", "/jwks").json()["keys"]
    assert gw.get(proxy, "auth.example.com", "/health").status_code == 200
    assert gw.get(proxy, "auth.example.com", "/register/unknown-client").status_code == 401
    for internal in ("/metrics", "/openapi.json", "/register/a/b", "/healthz"):
        response = gw.get(proxy, "auth.example.com", internal)
        assert response.status_code == 404, internal
        assert "authgate_" not in response.text and "openapi" not in response.text


# The harness runs the shipped files themselves.


@pytest.mark.parametrize("proxy", PROXIES)
def test_the_proxies_run_the_shipped_files(gw: Gateway, proxy: str) -> None:
    running: ProxyProcess = gw.proxies[proxy]
    assert running.process is not None and running.process.poll() is None
    args = running.process.args
    assert isinstance(args, list)
    if proxy == "nginx":
        rendered = (running.directory / "conf.d" / "authgate.conf").read_text()
        env = running.values.env("nginx") | {"LISTEN": f"127.0.0.1:{running.port}"}
        assert rendered == render_nginx(SHIPPED["nginx"].read_text(), env)
        assert "${" not in rendered
    else:
        assert str(SHIPPED[proxy]) in " ".join(args), args
    assert SHIPPED[proxy].parent.parent.name == "deploy"
    text = json.dumps(args)
    assert "testsupport" not in text, "the proxy must not run a config from the test support"


# Issue 17: discovery on MCP hosts, CORS preflights and readable challenges.

AS_METADATA = "/.well-known/oauth-authorization-server"
ORIGIN = "http://localhost:6274"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type,mcp-protocol-version",
}
SERVICE_PATHS = [("mcp_a", MCP_A_HOST, "/mcp"), ("github", TOOLS_HOST, "/github/mcp")]


@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize("host", [MCP_A_HOST, TOOLS_HOST])
def test_mcp_hosts_serve_the_issuers_metadata(
    gw: Gateway, upstreams: Upstreams, proxy: str, host: str
) -> None:
    """MCP 2025-03-26 clients look for RFC 8414 metadata on the MCP server's origin: the proxy
    routes it to the issuer, so it is the issuer's document byte for byte."""
    own = httpx.get(gw.stack.issuer_url + AS_METADATA, timeout=10)
    assert own.status_code == 200
    before = upstreams.counts()
    answer = gw.get(proxy, host, AS_METADATA, headers={"Origin": ORIGIN})
    assert answer.status_code == 200, answer.text
    assert answer.content == own.content
    assert answer.headers["etag"] == own.headers["etag"]
    assert answer.headers["access-control-allow-origin"] == "*"
    # A path-suffixed probe (RFC 8414 §3.1 for an issuer with a path) is the issuer's 404,
    # readable cross-origin, never the MCP route's 401.
    suffixed = gw.get(proxy, host, AS_METADATA + "/mcp", headers={"Origin": ORIGIN})
    assert suffixed.status_code == 404 and suffixed.json()["error"]
    assert suffixed.headers["access-control-allow-origin"] == "*"
    preflight = gw.request(
        proxy,
        "OPTIONS",
        host,
        AS_METADATA,
        headers={**PREFLIGHT, "Access-Control-Request-Method": "GET"},
    )
    assert (
        preflight.status_code == 204 and "GET" in preflight.headers["access-control-allow-methods"]
    )
    assert upstreams.reached_since(before) == []


@pytest.mark.parametrize("proxy", PROXIES)
def test_openid_configuration_is_gone(gw: Gateway, proxy: str) -> None:
    for host in ("auth.example.com", MCP_A_HOST):
        answer = gw.get(proxy, host, "/.well-known/openid-configuration")
        assert answer.status_code in (401, 404) and "issuer" not in answer.text, host


@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize(("service", "host", "path"), SERVICE_PATHS)
def test_a_preflight_reaches_the_upstream_without_identity(
    gw: Gateway, upstreams: Upstreams, proxy: str, service: str, host: str, path: str
) -> None:
    before = upstreams.counts()
    spoofed = {"X-User-Id": "spoofed", "X_User_Name": "spoofed"}
    answer = gw.request(proxy, "OPTIONS", host, path, headers={**PREFLIGHT, **spoofed})
    assert answer.status_code == 200, answer.text
    assert upstreams.reached_since(before) == [service]
    received = upstreams.by_name[service].last()
    assert (received.method, received.path) == ("OPTIONS", path)
    assert received.header("Origin") == [ORIGIN]
    environ = wsgi_environ(received)
    for name in (*IDENTITY, "X-Auth-Token"):
        assert "HTTP_" + name.upper().replace("-", "_") not in environ, (name, received.headers)
    assert not [v for _, v in received.headers if v == "spoofed" or v.startswith("{http.")]
    # The upstream's own CORS answer reaches the browser.
    assert answer.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize(
    "headers",
    [
        {**PREFLIGHT, "X-Forwarded-Method": "OPTIONS"},  # a client's claim, not the proxy's
        {"Origin": ORIGIN},  # OPTIONS without Access-Control-Request-Method: no preflight
    ],
)
def test_nothing_else_passes_as_a_preflight(
    gw: Gateway, upstreams: Upstreams, proxy: str, headers: dict[str, str]
) -> None:
    method = "GET" if "X-Forwarded-Method" in headers else "OPTIONS"
    before = upstreams.counts()
    answer = gw.request(proxy, method, MCP_A_HOST, "/mcp", headers=headers)
    assert answer.status_code == 401 and upstreams.reached_since(before) == []


@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize(("service", "host", "path"), SERVICE_PATHS)
def test_refusals_are_readable_cross_origin(
    gw: Gateway, upstreams: Upstreams, proxy: str, service: str, host: str, path: str
) -> None:
    resource = MCP_A if service == "mcp_a" else GITHUB
    narrow = gw.mint(resource, scope="mcp:read").token
    before = upstreams.counts()
    missing = gw.request(proxy, "POST", host, path, headers={"Origin": ORIGIN}, json={})
    step_up = gw.request(proxy, "POST", host, path, token=narrow, headers={"Origin": ORIGIN})
    assert (missing.status_code, step_up.status_code) == (401, 403)
    assert upstreams.reached_since(before) == []
    for answer in (missing, step_up):
        assert answer.headers.get_list("access-control-allow-origin") == ["*"]
        exposed = answer.headers["access-control-expose-headers"].lower().replace(" ", "")
        assert "www-authenticate" in exposed.split(",")
        assert "access-control-allow-credentials" not in answer.headers
        (challenge,) = answer.headers.get_list("www-authenticate")
        assert 'scope="mcp:*"' in challenge  # REQUIRED_SCOPES=*=mcp:* in this gateway
    assert 'error="insufficient_scope"' in step_up.headers["www-authenticate"]
