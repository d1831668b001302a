"""Parsing of ``REDIS_URL`` into a topology: standalone, Sentinel or Cluster.

Accepted forms (``rediss`` instead of ``redis`` means TLS everywhere):

- ``redis://[[user]:password@]host[:port][/db][?option=value]`` and ``unix://`` — one server;
  with ``cluster=True`` (``REDIS_CLUSTER=true``) a ``redis://`` URL names one seed node of a Cluster.
- ``redis+sentinel://[[user]:password@]host1[:26379],host2[:26379]/service-name[/db]`` — the
  primary of ``service-name`` as reported by the sentinels; user/password are the data nodes'.
- ``redis+cluster://[[user]:password@]host1[:6379],host2[:6379]`` — seed nodes of a Cluster.

Query options (``ssl_cert_reqs``, ``ssl_ca_certs``, ...) are redis-py's ``from_url`` options and
apply to the data nodes. Error messages never repeat the URL: it may carry a password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from redis.asyncio.connection import SSLConnection, parse_url

Mode = Literal["standalone", "sentinel", "cluster"]

_SCHEMES: dict[str, tuple[Mode, bool]] = {
    "redis": ("standalone", False),
    "rediss": ("standalone", True),
    "unix": ("standalone", False),
    "redis+sentinel": ("sentinel", False),
    "rediss+sentinel": ("sentinel", True),
    "redis+cluster": ("cluster", False),
    "rediss+cluster": ("cluster", True),
}
DEFAULT_PORTS: dict[Mode, int] = {"standalone": 6379, "sentinel": 26379, "cluster": 6379}


@dataclass(frozen=True)
class RedisTarget:
    """Where the data lives and how to connect to the data nodes."""

    mode: Mode
    nodes: tuple[tuple[str, int], ...]
    """Standalone: the server; Sentinel: the sentinels; Cluster: seed nodes."""
    tls: bool = False
    service_name: str = ""
    connection_kwargs: dict[str, Any] = field(default_factory=dict)
    """redis-py connection options for the data nodes: username, password, db, ssl options."""


def parse_redis_url(url: str, *, cluster: bool = False) -> RedisTarget:
    """The topology described by ``url``; ValueError with a reason that is safe to log."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in _SCHEMES:
        raise ValueError(
            f"must start with one of {', '.join(s + '://' for s in _SCHEMES)}, got {scheme!r}"
        )
    mode, tls = _SCHEMES[scheme]
    if cluster and mode == "sentinel":
        raise ValueError("REDIS_CLUSTER=true cannot be combined with a redis+sentinel:// URL")
    if cluster and scheme == "unix":
        raise ValueError("Redis Cluster does not support unix sockets")
    if cluster:
        mode = "cluster"
    if mode == "standalone":
        return _standalone(url, tls)
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, _, hosts = netloc.rpartition("@")
    nodes = tuple(_node(item, DEFAULT_PORTS[mode]) for item in hosts.split(","))
    service, db = _path(parts.path, mode)
    # redis-py's own parser handles userinfo quoting and query options; give it one node.
    single = f"{'rediss' if tls else 'redis'}://{userinfo + '@' if userinfo else ''}x/{db}"
    if parts.query:
        single += f"?{parts.query}"
    kwargs = _redis_py_options(single)
    kwargs.pop("host", None)
    kwargs.pop("port", None)
    if mode == "cluster":
        kwargs.pop("db", None)
    return RedisTarget(mode, nodes, tls, service, kwargs)


def _standalone(url: str, tls: bool) -> RedisTarget:
    if "," in urlsplit(url).netloc:
        raise ValueError("a list of hosts needs redis+sentinel:// or redis+cluster://")
    kwargs = _redis_py_options(url)
    host = str(kwargs.get("host") or kwargs.get("path") or "localhost")
    if url.lower().startswith("unix://") and not kwargs.get("path"):
        raise ValueError("unix:// needs a socket path")
    return RedisTarget("standalone", ((host, int(kwargs.get("port") or 6379)),), tls, "", kwargs)


def _redis_py_options(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ValueError("port must be between 1 and 65535") from None
    if port == 0:
        raise ValueError("port must be between 1 and 65535")
    if parts.scheme != "unix" and not re.fullmatch(r"/?(\d+)?", parts.path):
        raise ValueError("the path must be a database number, e.g. /0")
    try:
        kwargs: dict[str, Any] = dict(parse_url(url))
    except ValueError as exc:
        raise ValueError(_without_url(str(exc), url)) from None
    if kwargs.pop("connection_class", None) is SSLConnection:
        kwargs["ssl"] = True
    return kwargs


def _without_url(message: str, url: str) -> str:
    return message.replace(url, "<REDIS_URL>") or "invalid URL"


def _node(item: str, default_port: int) -> tuple[str, int]:
    item = item.strip()
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = item.partition(":")
    if not host:
        raise ValueError("every host in the list needs a name, e.g. host1:26379,host2:26379")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"port of {host!r} must be between 1 and 65535, got {port_text!r}")
    return host, int(port_text)


def _path(path: str, mode: Mode) -> tuple[str, int]:
    segments = [s for s in path.split("/") if s]
    if mode == "cluster":
        if segments not in ([], ["0"]):
            raise ValueError("Redis Cluster has only database 0; remove the path from the URL")
        return "", 0
    if not segments or len(segments) > 2:
        raise ValueError("a Sentinel URL needs /<service-name>[/<db>] after the sentinel hosts")
    db_text = segments[1] if len(segments) == 2 else "0"
    if not db_text.isdigit():
        raise ValueError(f"database must be a number, got {db_text!r}")
    return segments[0], int(db_text)
