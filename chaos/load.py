"""The mixed load: each worker thread registers clients, logs users in through the dev login,
refreshes, revokes, deletes clients and asks the verifier about every token it holds.

Expected answers: a live token is accepted (200) by the verifier and active at introspection; a
revoked one refused (401) and inactive. Outages excuse 503s (Redis) and refused connections (the
verifier) only inside their windows, which the ledger judges at the end; a revoked token
accepted, a live token refused with 401 and any 500 are wrong whenever they happen.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import httpx

from testsupport import flows
from testsupport.stack import RESOURCE_A, Stack

from .gate import Gate
from .ledger import LIVE, REVOKED, UNKNOWN, Ledger, Owned, Session, Token

MAX_CLIENTS, MAX_SESSIONS = 6, 24


class Worker:
    def __init__(
        self, stack: Stack, ledger: Ledger, gate: Gate, clock: Callable[[], float], seed: int
    ):
        self.stack, self.ledger, self.gate, self.clock = stack, ledger, gate, clock
        self.http = httpx.Client(timeout=10)
        self.owned = Owned()
        self.rng = random.Random(seed)
        self.url = stack.issuer_url

    def run(self, until: float, think: float) -> None:
        operations = [
            (self.verify, 70), (self.introspect, 5), (self.refresh, 8), (self.login, 6),
            (self.revoke_access, 5), (self.revoke_grant, 3), (self.register, 2), (self.delete, 1),
        ]  # fmt: skip
        actions, weights = zip(*operations, strict=True)
        while self.clock() < until:
            action = self.rng.choices(actions, weights)[0]
            with self.gate.turn():
                action()
            time.sleep(think)
        self.http.close()

    # Issuer answers: 2xx fine; 503 fine only during a Redis outage; anything else is wrong.

    def _issuer(self, operation: str, send: Callable[[], httpx.Response]) -> httpx.Response | None:
        started = self.clock()
        try:
            response = send()
        except AssertionError:
            # A browser-flow step got an unexpected page (e.g. a 503 during the outage).
            self.ledger.count(operation, "flow interrupted")
            self.ledger.suspect(started, self.clock(), "redis", f"{operation} interrupted")
            return None
        except (httpx.HTTPError, flows.FlowError) as exc:
            status = getattr(exc, "status", None)
            if status == 503:
                self.ledger.count(operation, "503")
                self.ledger.suspect(started, self.clock(), "redis", f"{operation} 503")
            else:
                self.ledger.count(operation, type(exc).__name__ if status is None else str(status))
                self.ledger.wrong_answer(f"{operation} failed", str(exc)[:120])
            return None
        self.ledger.count(operation, str(response.status_code))
        if response.status_code == 503:
            self.ledger.suspect(started, self.clock(), "redis", f"{operation} 503")
        elif response.status_code >= 500 or (
            response.status_code >= 400 and "json" not in response.headers.get("content-type", "")
        ):
            # Errors are RFC-shaped JSON; a 500, a page or a traceback is a wrong answer.
            self.ledger.wrong_answer(f"{operation} {response.status_code}", response.text[:120])
        return response

    def register(self) -> None:
        if len(self.owned.clients) >= MAX_CLIENTS:
            return
        public = self.rng.random() < 0.5
        client: list[flows.RegisteredClient] = []

        def send() -> httpx.Response:
            client.append(flows.register(self.http, self.url, public=public))
            return httpx.Response(201, headers={"content-type": "application/json"})

        if self._issuer("register", send) is not None:
            self.owned.clients.append(client[0])

    def login(self) -> None:
        if not self.owned.clients:
            self.register()
            return
        if len([s for s in self.owned.sessions if s.alive]) >= MAX_SESSIONS:
            return
        client = self.rng.choice(self.owned.clients)
        tokens: list[dict[str, str]] = []

        def send() -> httpx.Response:
            tokens.append(flows.login(self.http, self.url, client, resources=[RESOURCE_A]))
            return httpx.Response(200, headers={"content-type": "application/json"})

        if self._issuer("login", send) is not None:
            body = tokens[0]
            session = Session(client, body["refresh_token"], [Token(body["access_token"])])
            self.owned.sessions.append(session)

    def _session(self) -> Session | None:
        alive = [s for s in self.owned.sessions if s.alive]
        return self.rng.choice(alive) if alive else None

    def refresh(self) -> None:
        session = self._session()
        if session is None:
            return
        old = session.refresh_token
        response = self._issuer(
            "refresh", lambda: flows.refresh(self.http, self.url, session.client, old)
        )
        if response is not None and response.status_code == 200:
            body = response.json()
            session.refresh_token = body["refresh_token"]
            session.tokens.append(Token(body["access_token"]))
        elif response is None or response.status_code == 503:
            # The rotation may have happened before the failure: the old token is now a reuse.
            session.kill(UNKNOWN)
        else:
            self.ledger.wrong_answer("refresh of a live grant refused", response.text[:120])
            session.kill(UNKNOWN)

    def revoke_access(self) -> None:
        session = self._session()
        live = [t for t in session.tokens if t.state == LIVE] if session else []
        if session is None or not live:
            return
        token = self.rng.choice(live)
        response = self._issuer(
            "revoke", lambda: flows.revoke(self.http, self.url, session.client, token.value)
        )
        token.state = REVOKED if response is not None and response.status_code == 200 else UNKNOWN

    def revoke_grant(self) -> None:
        session = self._session()
        if session is None:
            return
        refresh = session.refresh_token
        response = self._issuer(
            "revoke", lambda: flows.revoke(self.http, self.url, session.client, refresh)
        )
        session.kill(REVOKED if response is not None and response.status_code == 200 else UNKNOWN)

    def delete(self) -> None:
        if len(self.owned.clients) < 2:
            return
        client = self.owned.clients.pop(self.rng.randrange(len(self.owned.clients)))
        bearer = {"Authorization": f"Bearer {client.registration_access_token}"}
        response = self._issuer(
            "delete",
            lambda: self.http.delete(f"{self.url}/register/{client.client_id}", headers=bearer),
        )
        ok = response is not None and response.status_code == 204
        for session in self.owned.sessions_of(client):
            session.kill(REVOKED if ok else UNKNOWN)
        if ok:
            self.owned.deleted.append(client)

    def _judged_token(self, *, registered: bool = False) -> tuple[Session, Token] | None:
        """A token whose state is known, live ones more often (revoked ones pile up)."""
        gone = self.owned.deleted if registered else []
        pairs = [
            (s, t)
            for s in self.owned.sessions
            for t in s.tokens
            if t.state != UNKNOWN and s.client not in gone
        ]
        live = [p for p in pairs if p[1].state == LIVE]
        pool = live if live and self.rng.random() < 0.7 else pairs
        return self.rng.choice(pool) if pool else None

    def verify(self) -> None:
        picked = self._judged_token()
        if picked is None:
            self.login()
            return
        token = picked[1]
        expected = 200 if token.state == LIVE else 401
        started = self.clock()
        try:
            status = str(self.stack.verify(token.value).status_code)
        except httpx.ConnectError:
            status = "refused"
        except (httpx.ReadError, httpx.RemoteProtocolError):
            status = "dropped"  # in flight when the verifier process was killed
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        self.ledger.count("verify", f"{token.state}:{status}")
        if status == str(expected):
            return
        if status == "200":
            self.ledger.wrong_answer("revoked token accepted", token.value[-12:])
        elif status == "401":
            self.ledger.wrong_answer("valid token refused (401)", token.value[-12:])
        elif status == "503":
            self.ledger.suspect(started, self.clock(), "redis", "verifier 503")
        elif status in ("refused", "dropped"):
            self.ledger.suspect(started, self.clock(), "verifier", f"verifier {status}")
        else:
            self.ledger.wrong_answer(f"verify {status}", token.value[-12:])

    def introspect(self) -> None:
        picked = self._judged_token(registered=True)
        if picked is None:
            return
        session, token = picked
        auth_headers, extra = session.client.auth()
        response = self._issuer(
            "introspect",
            lambda: self.http.post(
                f"{self.url}/introspect", data={"token": token.value, **extra}, headers=auth_headers
            ),
        )
        if response is None or response.status_code != 200:
            return
        if response.json()["active"] != (token.state == LIVE):
            self.ledger.wrong_answer(f"introspection of a {token.state} token", response.text[:80])
