"""compose.yaml and the Dockerfiles, checked statically (no Docker engine on our machines).

Each check ties a deployment file to the code it starts: environment names to the variables the
service's settings really read, healthchecks to real routes, Traefik labels to defined
middlewares/routers/services/resolvers, Dockerfile CMDs to real console scripts or modules.
"""

from __future__ import annotations

import itertools
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the pins

from testsupport.compose_file import SERVICES, labels

ROOT = Path(__file__).resolve().parents[1]
IDENTITY_HEADERS = {
    "X-User-Id",
    "X-User-Name",
    "X-Auth-Token",
    "X-Client-Id",
    "X-Scopes",
    "X-User-Groups",
}

# Our services: compose name -> (Dockerfile, package source dir, pyproject of the console script).
OURS = {
    "issuer": (
        "services/issuer/Dockerfile",
        "services/issuer/src/authgate_issuer",
        "services/issuer",
    ),
    "verifier": (
        "services/verifier/Dockerfile",
        "services/verifier/src/authgate_verifier",
        "services/verifier",
    ),
    "echo": ("devstack/Dockerfile", "devstack", None),
}
# EnvReader methods (authgate_shared.config) and os.environ look-ups that name a variable.
_ENV_CALL = re.compile(
    r"""(?:\.(?:raw|text|required|integer|flag|choice|items|parsed|get)\(|environ\[)\s*["']([A-Z][A-Z0-9_]+)["']"""
)
_VAR_REF = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::?[-?][^}]*)?\}")


def env_names_read_by(package_dir: Path) -> set[str]:
    """Variables the package's settings read, plus the shared Redis ones when it uses them."""
    sources = [p.read_text() for p in package_dir.rglob("*.py") if "settings" in p.name]
    sources += [p.read_text() for p in [package_dir / "demo_mcp.py"] if p.exists()]
    text = "\n".join(sources)
    if "redis_settings_from_env" in text:
        text += (ROOT / "shared/src/authgate_shared/redis/connection.py").read_text()
    return set(_ENV_CALL.findall(text))


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def health_url(test: list[str] | str) -> str:
    words = shlex.split(test) if isinstance(test, str) else test
    found = re.search(r"https?://[^'\"\s)]+", " ".join(words))
    assert found, f"healthcheck names no URL: {test}"
    return found.group(0)


def issuer_paths() -> set[str]:
    from authgate_issuer.app import create_app
    from authgate_issuer.settings import IssuerSettings

    env = {
        "ISSUER_URL": "https://auth.example.com",
        "GITHUB_CLIENT_ID": "x",
        "GITHUB_CLIENT_SECRET": "x",
        "ALLOWED_RESOURCES": "https://echo.example.com",
    }
    paths: dict[str, Any] = create_app(IssuerSettings.from_env(env)).openapi()["paths"]
    return set(paths)


def echo_paths() -> set[str]:
    from devstack.demo_mcp import build_app

    return {getattr(r, "path", "") for r in build_app(["localhost:*"]).routes}


def verifier_paths() -> set[str]:
    # The verifier is a raw ASGI app without a route table: its paths are the string literals it
    # compares the request path with.
    source = "\n".join(
        p.read_text() for p in (ROOT / "services/verifier/src/authgate_verifier").rglob("*.py")
    )
    return set(re.findall(r"""["'](/[a-z.][a-z0-9/_.-]*)["']""", source))


ROUTES = {"issuer": issuer_paths, "verifier": verifier_paths, "echo": echo_paths}


@pytest.mark.parametrize("name", sorted(OURS))
def test_environment_names_exist_in_settings(name: str) -> None:
    known = env_names_read_by(ROOT / OURS[name][1])
    assert known, f"no settings found for {name}"
    unknown = set(environment(SERVICES[name])) - known
    assert not unknown, f"{name} sets variables its settings never read: {sorted(unknown)}"


def test_every_interpolated_variable_is_in_env_example() -> None:
    listed = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if re.match(r"^[A-Z][A-Z0-9_]*=", line)
    }
    used = set(_VAR_REF.findall((ROOT / "compose.yaml").read_text()))
    assert used - listed == set(), "compose.yaml uses variables .env.example does not list"


def test_env_example_covers_issuer_and_verifier_settings() -> None:
    # Fixed by compose itself, or dev-only (AUTHGATE_DEV_LOGIN must never reach a deployment).
    fixed = {
        "AUTHGATE_DEV_LOGIN",
        "KEYS_DIR",
        "REDIS_HOST",
        "REDIS_PORT",
        "REDIS_URL",
        "ISSUER_URL",
        # compose's ISSUER_URL is always https, so the plain-http escape hatch has no use there.
        "ALLOW_INSECURE_ISSUER_URL",
        "DEMO_MCP_ALLOWED_HOSTS",
        # Refused at start-up unless ISSUER_URL is loopback: a local-development switch.
        "CIMD_ALLOW_PRIVATE_ADDRESSES",
        # Plain http towards an OpenID Provider on loopback: tests and local development.
        "OIDC_ALLOW_INSECURE",
    }
    listed = (ROOT / ".env.example").read_text() + (ROOT / "compose.yaml").read_text()
    for name in ("issuer", "verifier"):
        wanted = {n for n in env_names_read_by(ROOT / OURS[name][1]) if not n.startswith("REDIS_")}
        missing = {n for n in wanted - fixed if not re.search(rf"\b{n}\b", listed)}
        assert not missing, f"{name} variables missing from .env.example/compose.yaml: {missing}"


@pytest.mark.parametrize("name", sorted(OURS))
def test_healthchecks_hit_real_routes(name: str) -> None:
    compose_url = health_url(SERVICES[name]["healthcheck"]["test"])
    dockerfile = (ROOT / OURS[name][0]).read_text()
    docker_url = health_url(dockerfile.split("HEALTHCHECK", 1)[1].split("\nCMD", 1)[0])
    paths = ROUTES[name]()
    for url in (compose_url, docker_url):
        assert urlsplit(url).port == 8000, url
        assert urlsplit(url).path in paths, f"{name}: {url} is not a route of the service"


def test_redis_has_password_aof_volume_and_healthcheck() -> None:
    redis = SERVICES["redis"]
    command = " ".join(redis["command"])
    assert "--requirepass ${REDIS_PASSWORD" in command
    assert "--appendonly yes" in command
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert "ping" in " ".join(redis["healthcheck"]["test"])
    for name in ("issuer", "verifier"):
        assert SERVICES[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert environment(SERVICES[name])["REDIS_PASSWORD"] == "${REDIS_PASSWORD}"


def test_issuer_as_in_the_seed() -> None:
    issuer = SERVICES["issuer"]
    # The signing keys persist; nothing writes log files (logs go to stdout, JSON lines).
    assert issuer["volumes"] == ["auth-keys:/keys"]
    found = {key: value for service, key, value in labels() if service == "issuer"}
    assert found["traefik.http.routers.auth.rule"].startswith("Host(`auth.${BASE_DOMAIN}`) && (")
    assert found["traefik.http.routers.auth.priority"] == "4"
    assert found["traefik.http.routers.auth.tls.certresolver"] == "letsencrypt"
    assert int(str(SERVICES["verifier"]["deploy"]["replicas"]).split(":-")[-1].strip("}")) >= 2


def test_labels_reference_defined_objects() -> None:
    middlewares: set[str] = set()
    services: set[str] = set()
    routers: dict[str, dict[str, str]] = {}
    for _, key, value in labels():
        parts = key.split(".")
        if key.startswith("traefik.http.middlewares."):
            middlewares.add(parts[3])
        elif key.startswith("traefik.http.services."):
            services.add(parts[3])
        elif key.startswith("traefik.http.routers."):
            routers.setdefault(parts[3], {})[".".join(parts[4:])] = value
    command = " ".join(SERVICES["traefik"]["command"])
    entrypoints = set(re.findall(r"--entrypoints\.([a-z]+)\.address", command))
    resolvers = set(re.findall(r"--certificatesresolvers\.([a-z]+)\.", command))
    assert routers and middlewares
    for router, options in routers.items():
        assert "rule" in options, router
        assert options["service"] in services, router
        assert set(options.get("entrypoints", "").split(",")) <= entrypoints, router
        assert options.get("tls.certresolver") in resolvers, router
        for used in filter(None, options.get("middlewares", "").split(",")):
            assert used.removesuffix("@docker") in middlewares, f"{router} uses {used}"
    assert routers["echo"]["middlewares"] == "strip-identity@docker,auth-echo@docker"


def objects(kind: str) -> dict[str, dict[str, str]]:
    """Traefik objects of one kind (``routers``, ``middlewares``) from every container's labels,
    option name (lower-cased, as Traefik reads label keys) -> value."""
    found: dict[str, dict[str, str]] = {}
    for _, key, value in labels():
        parts = key.split(".")
        if key.startswith(f"traefik.http.{kind}."):
            found.setdefault(parts[3], {})[".".join(parts[4:]).lower()] = value
    return found


def spellings(name: str) -> set[str]:
    """Every mix of "-" and "_" between the words of ``name`` (case is Go's to canonicalise)."""
    words = name.split("-")
    return {
        words[0] + "".join(s + w for s, w in zip(seps, words[1:], strict=True))
        for seps in itertools.product("-_", repeat=len(words) - 1)
    }


def host_of_rule(rule: str) -> str:
    hosts: list[str] = re.findall(r"Host\(`([^`]+)`\)", rule)
    assert len(hosts) == 1 and rule.startswith(f"Host(`{hosts[0]}`)"), rule
    return hosts[0]


def test_every_mcp_router_binds_the_resource_of_its_own_host() -> None:
    routers, middlewares = objects("routers"), objects("middlewares")
    protected = {n: r for n, r in routers.items() if "middlewares" in r}
    assert protected, "no MCP router"
    for name, router in protected.items():
        host = host_of_rule(router["rule"])
        prefix = re.findall(r"PathPrefix\(`(/[^`]*)/`\)", router["rule"])
        used = [m.removesuffix("@docker") for m in router["middlewares"].split(",")]
        auths = [m for m in used if "forwardauth.address" in middlewares[m]]
        assert len(auths) == 1, f"{name}: one ForwardAuth of its own, got {auths}"
        auth = middlewares[auths[0]]
        address = urlsplit(auth["forwardauth.address"])
        assert (address.hostname, address.path) == ("verifier", "/verify")
        assert address.path in verifier_paths()
        # Exactly one resource, the router's own Host (and prefix), https as the public scheme.
        assert parse_qs(address.query) == {"resource": [f"https://{host}{''.join(prefix)}"]}
        assert "%3A%2F%2F" in address.query, "the resource is percent-encoded"
        others = [a for n, r in protected.items() if n != name for a in r["middlewares"].split(",")]
        assert f"{auths[0]}@docker" not in others, f"{auths[0]} is shared by two routers"
        assert auth["forwardauth.trustforwardheader"] == "false"
        assert set(auth["forwardauth.authresponseheaders"].split(",")) == IDENTITY_HEADERS
        # Identity headers are stripped before the ForwardAuth runs.
        assert used.index("strip-identity") < used.index(auths[0])
        # The host's metadata reaches the verifier without auth, above the MCP router.
        metadata = [
            r
            for r in routers.values()
            if r.get("service") == "verifier" and host_of_rule(r["rule"]) == host
        ]
        assert len(metadata) == 1 and "middlewares" not in metadata[0], name
        assert "Path(`/.well-known/oauth-protected-resource`)" in metadata[0]["rule"]
        assert "PathPrefix(`/.well-known/oauth-protected-resource/`)" in metadata[0]["rule"]
        assert int(metadata[0]["priority"]) > int(router.get("priority", "0"))
    assert "/.well-known/oauth-protected-resource" in verifier_paths()


def test_every_router_pins_a_host() -> None:
    for name, router in objects("routers").items():
        host = host_of_rule(router["rule"])
        assert host.endswith(".${BASE_DOMAIN}"), (name, host)


def test_identity_headers_are_stripped_in_every_spelling() -> None:
    strip = objects("middlewares")["strip-identity"]
    deleted = {
        key.removeprefix("headers.customrequestheaders.")
        for key, value in strip.items()
        if key.startswith("headers.customrequestheaders.") and value == ""
    }
    wanted = {s.lower() for name in IDENTITY_HEADERS for s in spellings(name)}
    assert deleted == wanted, wanted ^ deleted
    command = SERVICES["traefik"]["command"]
    assert "--entrypoints.websecure.http.aliasHeadersStrategy=delete" in command


def test_issuer_router_serves_only_public_routes() -> None:
    rule = objects("routers")["auth"]["rule"]
    exact = set(re.findall(r"\bPath\(`([^`]+)`\)", rule))
    public = issuer_paths() - {"/metrics", "/openapi.json"}
    assert exact | {"/register/{client_id}"} == public, exact ^ public
    assert re.findall(r"PathRegexp\(`([^`]+)`\)", rule) == ["^/register/[^/]+$$"]
    assert "PathPrefix" not in rule and "/metrics" not in rule


def console_scripts(project_dir: str) -> dict[str, str]:
    data = tomllib.loads((ROOT / project_dir / "pyproject.toml").read_text())
    scripts: dict[str, str] = data["project"]["scripts"]
    return scripts


@pytest.mark.parametrize("name", sorted(OURS))
def test_dockerfile_builds_a_small_pinned_non_root_image(name: str) -> None:
    dockerfile_path, package_dir, project = OURS[name]
    text = (ROOT / dockerfile_path).read_text()
    instructions = [line.split(None, 1) for line in text.splitlines() if line[:1].isupper()]
    assert sum(1 for word, *_ in instructions if word == "FROM") >= 2, "multi-stage"
    installs = re.findall(r"uv pip install [^\n]*(?:\\\n[^\n]*)*", text)
    assert installs and all("-c constraints.txt" in i or "constraints.txt" in i for i in installs)
    user = [rest for word, *rest in instructions if word == "USER"]
    assert user and user[-1][0].strip() not in {"root", "0"}
    assert "HEALTHCHECK" in text and "curl" not in text
    cmd = yaml.safe_load(text.rsplit("\nCMD ", 1)[1].splitlines()[0])
    if project is not None:
        assert cmd[0] in console_scripts(project), f"{cmd[0]} is not a console script"
        module, _, function = console_scripts(project)[cmd[0]].partition(":")
        source = ROOT / package_dir / (module.split(".", 1)[1].replace(".", "/") + ".py")
        assert f"def {function}(" in source.read_text()
        others = {"issuer", "verifier"} - {name}
        assert all(f"services/{o}" not in text for o in others), "only this service's code"
    else:
        assert cmd[:2] == ["python", "-m"]
        assert (ROOT / (cmd[2].replace(".", "/") + ".py")).exists()


def test_every_mcp_host_routes_the_issuers_metadata() -> None:
    """MCP 2025-03-26 clients look for RFC 8414 metadata on the MCP server's own origin: each
    MCP host has an unauthenticated router to the issuer, above its MCP router."""
    routers = objects("routers")
    protected = {n: r for n, r in routers.items() if "middlewares" in r}
    for name, router in protected.items():
        host = host_of_rule(router["rule"])
        found = [
            r
            for r in routers.values()
            if r.get("service") == "auth" and host_of_rule(r["rule"]) == host
        ]
        assert len(found) == 1 and "middlewares" not in found[0], name
        assert "Path(`/.well-known/oauth-authorization-server`)" in found[0]["rule"]
        assert "PathPrefix(`/.well-known/oauth-authorization-server/`)" in found[0]["rule"]
        assert int(found[0]["priority"]) > int(router.get("priority", "0"))
