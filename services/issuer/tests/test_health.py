from __future__ import annotations

from pathlib import Path

import httpx

from testsupport.issuer import issuer_env, start_issuer
from testsupport.redis_server import RedisServer


def test_health_reports_redis_connected(client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["redis"] == "connected"
    assert body["version"] == "0.2.0"
    assert isinstance(body["uptime"], int)


def test_health_goes_unhealthy_and_recovers_with_redis(tmp_path: Path, keys_dir: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    proc = start_issuer(issuer_env(server.url, keys_dir), tmp_path)
    try:
        assert httpx.get(proc.url + "/health").json()["redis"] == "connected"
        server.kill()
        down = httpx.get(proc.url + "/health", timeout=10)
        assert down.status_code == 503
        assert down.json() == {**down.json(), "status": "unhealthy", "redis": "disconnected"}
        assert proc.process is not None and proc.process.poll() is None
        server.start()
        recovered = httpx.get(proc.url + "/health", timeout=10)
        if recovered.status_code != 200:  # the pool may hold one dead connection
            recovered = httpx.get(proc.url + "/health", timeout=10)
        assert recovered.status_code == 200
        assert recovered.json()["redis"] == "connected"
    finally:
        proc.stop()
        server.stop()
