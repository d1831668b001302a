"""The faults: Redis killed with SIGKILL and restarted on its AOF, the verifier killed with
SIGKILL and restarted. Each is measured: how long it was down, how long after the restart the
first good answers came back, and (Redis) the keys before the crash and after the restart.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from testsupport.redis_server import RedisServer
from testsupport.stack import Stack

from .gate import Gate

# Answers that overlap [kill, recovered + GRACE] are excused: requests already queued on a pool
# connection that died with Redis get one error each after the first good answer.
GRACE = 1.0
COUNTED = ("client", "grant", "token")


@dataclass(frozen=True)
class FaultRecord:
    kind: str
    at: float
    down: float
    recovery: float
    data: str


class Faults:
    def __init__(self, stack: Stack, gate: Gate, clock: Callable[[], float], probe: str) -> None:
        self.stack, self.gate, self.clock, self.probe = stack, gate, clock, probe
        self.windows: dict[str, list[tuple[float, float]]] = {"redis": [], "verifier": []}
        self.records: list[FaultRecord] = []

    @property
    def redis(self) -> RedisServer:
        """The stack's own redis-server (chaos runs need one to kill)."""
        server = self.stack.redis
        if server is None:
            raise RuntimeError("the chaos run needs a stack with its own redis-server")
        return server

    def counts(self) -> dict[str, int]:
        client = self.redis.client()
        try:
            return {
                kind: sum(1 for _ in client.scan_iter(f"oauth:{kind}:*", count=1000))
                for kind in COUNTED
            }
        finally:
            client.close()

    def _recovered(self, started: float, limit: float = 30.0) -> float:
        """Seconds from the restart (process start-up included) until the verifier accepts the
        probe token and the issuer is healthy again."""
        issuer = self.stack.issuer.url
        while self.clock() - started < limit:
            try:
                ok = self.stack.verify(self.probe).status_code == 200
                ok = ok and httpx.get(f"{issuer}/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                return self.clock() - started
            time.sleep(0.05)
        raise RuntimeError(f"no recovery within {limit}s")

    def redis_crash(self, down: float) -> FaultRecord:
        # The snapshot needs the load paused: otherwise "before" misses writes in flight.
        with self.gate.paused():
            before = self.counts()
            self.redis.kill()
            killed = self.clock()
        time.sleep(down)
        with self.gate.paused():
            restarted = self.clock()
            self.redis.start()
            after = self.counts()
        recovery = self._recovered(restarted)
        self.windows["redis"].append((killed, restarted + recovery + GRACE))
        same = "equal" if before == after else "DIFFERENT"
        data = f"keys before {before} after {after}: {same}"
        return self._record("redis kill -9, restart on AOF", killed, restarted, recovery, data)

    def verifier_crash(self, down: float) -> FaultRecord:
        verifier = self.stack.verifier
        assert verifier is not None
        verifier.stop(signal.SIGKILL)
        killed = self.clock()
        time.sleep(down)
        restarted = self.clock()
        verifier.start(expect_healthy=True)
        recovery = self._recovered(restarted)
        self.windows["verifier"].append((killed, restarted + recovery + GRACE))
        return self._record("verifier kill -9, restart", killed, restarted, recovery, "")

    def _record(
        self, kind: str, killed: float, restarted: float, recovery: float, data: str
    ) -> FaultRecord:
        record = FaultRecord(kind, killed, restarted - killed, recovery, data)
        self.records.append(record)
        return record
