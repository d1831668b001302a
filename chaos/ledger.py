"""What the load generator knows: its clients and tokens, the answers it got, and the answers it
must judge once the outage windows are known.

Every token has a state the load itself caused: ``live`` (issued, never revoked), ``revoked``
(a revocation, a grant revocation or a client deletion was acknowledged with 2xx) or
``unknown`` (an operation touching it ended ambiguously, e.g. a 503 or a timeout: the change may
or may not have been applied, so its answers are no longer judged).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from testsupport.flows import RegisteredClient

LIVE, REVOKED, UNKNOWN = "live", "revoked", "unknown"


@dataclass
class Token:
    value: str
    state: str = LIVE


@dataclass
class Session:
    """One grant: the current refresh token and every access token minted from it."""

    client: RegisteredClient
    refresh_token: str
    tokens: list[Token] = field(default_factory=list)
    alive: bool = True

    def kill(self, state: str) -> None:
        self.alive = False
        for token in self.tokens:
            if token.state == LIVE:
                token.state = state


@dataclass
class Owned:
    """A worker's own clients and sessions: nobody else touches them, so the order in which the
    worker saw its answers is the order in which they happened."""

    clients: list[RegisteredClient] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    deleted: list[RegisteredClient] = field(default_factory=list)

    def sessions_of(self, client: RegisteredClient) -> list[Session]:
        return [s for s in self.sessions if s.client is client]


@dataclass(frozen=True)
class Suspect:
    """An answer that is right only inside an outage window of ``kind``."""

    started: float
    ended: float
    kind: str
    """"redis" or "verifier": the fault that would excuse it."""
    what: str


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.wrong: Counter[str] = Counter()
        self.wrong_examples: list[str] = []
        self.suspects: list[Suspect] = []

    def count(self, operation: str, outcome: str) -> None:
        with self._lock:
            self.outcomes[(operation, outcome)] += 1

    def wrong_answer(self, kind: str, example: str) -> None:
        with self._lock:
            self.wrong[kind] += 1
            if len(self.wrong_examples) < 10:
                self.wrong_examples.append(f"{kind}: {example}")

    def suspect(self, started: float, ended: float, kind: str, what: str) -> None:
        with self._lock:
            self.suspects.append(Suspect(started, ended, kind, what))

    def judge(self, windows: dict[str, list[tuple[float, float]]]) -> None:
        """Answers only an outage excuses, checked against the windows that really happened."""
        for s in self.suspects:
            if not any(s.started < end and s.ended > start for start, end in windows[s.kind]):
                self.wrong_answer(f"{s.what} outside a {s.kind} outage", f"at {s.started:.1f}s")
