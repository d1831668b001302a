"""compose.yaml and the Dockerfiles, checked statically (no Docker engine on our machines).

Each check ties a deployment file to the code it starts: environment names to the variables the
service's settings really read, healthchecks to real routes, Traefik labels to defined
middlewares/routers/services/resolvers, Dockerfile CMDs to real console scripts or modules.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the pins

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
IDENTITY_HEADERS = {"X-User-Id", "X-User-Name", "X-Auth-Token", "X-Client-Id", "X-Scopes"}

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
        text += (ROOT / "shared/src/authgate_shared/redis_conn.py").read_text()
    return set(_ENV_CALL.findall(text))


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def labels() -> Iterator[tuple[str, str, str]]:
    for name, service in SERVICES.items():
        for label in service.get("labels", []):
            key, _, value = label.partition("=")
            yield name, key, value


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
        "DEMO_MCP_ALLOWED_HOSTS",
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
    assert {"./logs/auth:/logs", "auth-keys:/keys"} <= set(issuer["volumes"])
    found = {key: value for service, key, value in labels() if service == "issuer"}
    assert found["traefik.http.routers.auth.rule"] == "Host(`auth.${BASE_DOMAIN}`)"
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
    assert "mcp-auth@docker" in routers["echo"]["middlewares"]


def test_forward_auth_contract() -> None:
    found = {key: value for _, key, value in labels()}
    address = found["traefik.http.middlewares.mcp-auth.forwardauth.address"]
    assert urlsplit(address).hostname == "verifier"
    assert urlsplit(address).path in verifier_paths()
    headers = found["traefik.http.middlewares.mcp-auth.forwardauth.authResponseHeaders"]
    assert set(headers.split(",")) == IDENTITY_HEADERS
    prm_rule = found["traefik.http.routers.mcp-prm.rule"]
    assert "PathPrefix(`/.well-known/oauth-protected-resource`)" in prm_rule
    assert "/.well-known/oauth-protected-resource" in verifier_paths()
    assert "traefik.http.routers.mcp-prm.middlewares" not in found
    assert int(found["traefik.http.routers.mcp-prm.priority"]) > 4


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


def readme_block(language: str, first_line: str) -> list[str]:
    readme = (ROOT / "README.md").read_text()
    for block in re.findall(rf"```{language}\n(.*?)```", readme, re.S):
        if block.startswith(first_line):
            return [line.strip() for line in block.splitlines()]
    raise AssertionError(f"README has no {language} block starting with {first_line!r}")


def test_readme_proxy_snippets_are_the_configs_the_e2e_tests_run() -> None:
    from testsupport.proxies import Routes, caddy_site, nginx_server_block

    # The addresses make run uses; the e2e tests generate the same text with their own ports.
    routes = Routes(listen="127.0.0.1:8080", verifier="127.0.0.1:8090", upstream="127.0.0.1:8091")
    nginx = [line.strip() for line in nginx_server_block(routes).splitlines()]
    caddy = [line.strip() for line in caddy_site(routes).splitlines()]
    assert readme_block("nginx", "server {") == nginx
    assert readme_block("caddyfile", "http://:8080 {") == caddy


def test_readme_traefik_labels_are_those_of_compose() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Put it behind Traefik", 1)[1].split("## nginx", 1)[0]
    shown = re.findall(r"^- (traefik\.[^\n]+)$", section, re.M)
    used = {f"{key}={value}" for _, key, value in labels()}
    assert len(shown) >= 15
    assert set(shown) <= used
