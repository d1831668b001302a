"""The whole of Authgate as real processes on loopback: Redis, GitHub stand-in, issuer(s), verifier.

For fault, secrets-hygiene and chaos runs, which must kill and restart real processes::

    with running_stack(tmp_path, issuers=2, appendonly=True) as stack:
        stack.redis.kill(); stack.redis.start()   # same port, same AOF directory

``StackOptions(redis_url=...)`` runs the services on a Redis the caller started (a Sentinel set
or a Cluster from ``redis_topologies``); ``stack.redis`` is then None, ``stack.redis_url`` is
always the URL the services use.

Every issuer shares one ``ISSUER_URL`` (the first issuer's address) and one ``KEYS_DIR``, as
replicas behind one hostname do; the stand-in is the dev login (``AUTHGATE_DEV_LOGIN=true``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from authgate_issuer.store import keystore

from .github_standin import GitHubStandin
from .issuer import issuer_env
from .ports import free_port
from .redis_server import RedisServer
from .service import ServiceProcess, python_module

USERS = ("octocat", "hubot", "monalisa")
RESOURCE_A = "https://mcp-a.example.com"
RESOURCE_B = "https://mcp-b.example.com"


@dataclass
class Stack:
    directory: Path
    redis: RedisServer | None
    """The stack's own redis-server; None on a caller's Redis (``StackOptions.redis_url``)."""
    standin: GitHubStandin
    issuers: list[ServiceProcess]
    verifier: ServiceProcess | None
    issuer_url: str
    env: dict[str, str] = field(default_factory=dict)
    redis_url: str = ""

    @property
    def issuer(self) -> ServiceProcess:
        return self.issuers[0]

    def verify(self, token: str | None, resource: str = RESOURCE_A) -> httpx.Response:
        """One ForwardAuth decision, as a proxy in front of ``resource`` would ask for it."""
        assert self.verifier is not None
        scheme, _, host = resource.partition("://")
        headers = {"X-Forwarded-Proto": scheme, "X-Forwarded-Host": host, "X-Forwarded-Uri": "/mcp"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.get(
            f"{self.verifier.url}/verify", params={"resource": resource}, headers=headers, timeout=10
        )

    def start_issuer(self, **overrides: str) -> ServiceProcess:
        """One more issuer replica on the same Redis, keys and ISSUER_URL."""
        env = {**self.env, **overrides}
        proc = ServiceProcess(
            python_module("authgate_issuer", "--host", "127.0.0.1", "--port", "{port}"),
            env,
            self.directory / f"issuer{len(self.issuers)}.log",
        )
        self.issuers.append(proc)
        return proc.start(expect_healthy=True)

    def stop(self) -> None:
        for proc in [*self.issuers, self.verifier, self.standin]:
            if proc is not None:
                proc.stop()
        if self.redis is not None:
            self.redis.stop()


def verifier_env(redis_url: str, issuer_url: str, **overrides: str) -> dict[str, str]:
    env = {"ISSUER_URL": issuer_url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}
    env.update(overrides)
    return env


def start_verifier(
    directory: Path, env: Mapping[str, str], name: str = "verifier"
) -> ServiceProcess:
    return ServiceProcess(
        python_module("authgate_verifier", "--host", "127.0.0.1", "--port", "{port}"),
        env,
        directory / f"{name}.log",
    ).start(expect_healthy=True)


@functools.cache
def _test_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def seed_keys(keys_dir: Path) -> Path:
    """Put one 2048-bit key (the same for the whole test process) into ``keys_dir``.

    Generating the production 3072-bit key at every start costs seconds per issuer on a busy
    machine; key generation itself has its own tests.
    """
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if keystore.read_key_dir(keys_dir, "RS256") is None:
        keystore.add_key(keys_dir, _test_key(), make_current=True)
    return keys_dir


@dataclass(frozen=True)
class StackOptions:
    issuers: int = 1
    seed_key: bool = True
    """Put a ready key in KEYS_DIR; False: the first issuer generates one (as in production)."""
    verifier: bool = True
    appendonly: bool = False
    issuer_env: Mapping[str, str] = field(default_factory=dict)
    verifier_env: Mapping[str, str] = field(default_factory=dict)
    redis_url: str | None = None
    """Use this Redis (any ``REDIS_URL`` form) instead of starting a redis-server."""


def _issuer(stack: Stack, index: int, port: int | None = None) -> ServiceProcess:
    return ServiceProcess(
        python_module("authgate_issuer", "--host", "127.0.0.1", "--port", "{port}"),
        stack.env,
        stack.directory / f"issuer{index}.log",
        port=port,
    )


def _start(stack: Stack, options: StackOptions) -> None:
    """Stand-in and issuers in parallel (start-up is mostly imports); then the verifier, which
    reads the JWK Set the issuers publish."""
    first = _issuer(stack, 0, int(stack.issuer_url.rsplit(":", 1)[1]))
    stack.issuers += [first, *(_issuer(stack, i) for i in range(1, options.issuers))]
    with ThreadPoolExecutor(len(stack.issuers) + 1) as pool:
        starting = [pool.submit(stack.standin.start, expect_healthy=True)]
        starting += [pool.submit(p.start, expect_healthy=True) for p in stack.issuers]
        for future in starting:
            future.result()
    if options.verifier:
        env = verifier_env(stack.redis_url, stack.issuer_url, **options.verifier_env)
        stack.verifier = start_verifier(stack.directory, env)


def start_stack(directory: Path, options: StackOptions | None = None) -> Stack:
    """Start everything; on failure, stop what was started and re-raise."""
    options = options or StackOptions()
    directory.mkdir(parents=True, exist_ok=True)
    redis = None
    if options.redis_url is None:
        redis = RedisServer(directory / "redis", appendonly=options.appendonly).start()
    redis_url = redis.url if redis is not None else str(options.redis_url)
    keys = directory / "keys"
    if options.seed_key:
        seed_keys(keys)
    issuer_url = f"http://127.0.0.1:{free_port()}"
    callback = ["--callback-url", f"{issuer_url}/callback"]
    standin = GitHubStandin(directory, users=USERS, extra_args=callback)
    env = issuer_env(
        redis_url,
        keys,
        ISSUER_URL=issuer_url,
        AUTHGATE_DEV_LOGIN="true",
        ALLOWED_GITHUB_USERS=",".join(USERS),
        **standin.issuer_env(),
    )
    env.update(options.issuer_env)
    stack = Stack(directory, redis, standin, [], None, issuer_url, env, redis_url)
    try:
        _start(stack, options)
    except BaseException:
        stack.stop()
        raise
    return stack


@contextlib.contextmanager
def running_stack(directory: Path, options: StackOptions | None = None) -> Iterator[Stack]:
    stack = start_stack(directory, options)
    try:
        yield stack
    finally:
        stack.stop()
