"""The shipped proxy configs (``deploy/``) against the review's proxy-side findings, through real
Traefik, nginx and Caddy processes in front of the real issuer and verifier.

The example gateway: ``mcp-a.example.com``, and ``tools.example.com`` with ``/github`` and
``/jira``, each service its own recording upstream, so every test can say which upstream (if
any) a request reached. The proxies listen on plain http while the resources are ``https://``,
as behind a TLS-terminating balancer (finding 10). Requests whose path spelling matters are sent
as raw request lines: an HTTP client would normalise them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from testsupport.gateway import Gateway
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
from testsupport.routing_gateway import (
    IDENTITY,
    Upstreams,
    example_gateway,
    header,
    recording_upstreams,
    spellings,
    status,
    wsgi_environ,
)

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


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with recording_upstreams() as started:
        yield started


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, upstreams: Upstreams) -> Iterator[Gateway]:
    with example_gateway(tmp_path_factory.mktemp("routing"), upstreams) as gateway:
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
