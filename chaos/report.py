"""The final data check and the printed report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import httpx

from testsupport import flows
from testsupport.stack import Stack

from .faults import FaultRecord
from .ledger import LIVE, REVOKED, Ledger, Owned


def data_check(stack: Stack, owned: Iterable[Owned]) -> Counter[str]:
    """With the load stopped: every acknowledged change is still in force after all crashes.

    Keys "<what> ok" / "<what> WRONG": registered clients readable (RFC 7592), deleted ones gone,
    live grants refreshable, live tokens accepted and revoked ones refused by the verifier.
    """
    result: Counter[str] = Counter()
    url = stack.issuer_url

    def tally(what: str, ok: bool) -> None:
        result[f"{what} {'ok' if ok else 'WRONG'}"] += 1

    with httpx.Client(timeout=10) as http:
        for mine in owned:
            for client in mine.clients + mine.deleted:
                bearer = {"Authorization": f"Bearer {client.registration_access_token}"}
                status = http.get(f"{url}/register/{client.client_id}", headers=bearer).status_code
                deleted = client in mine.deleted
                tally(
                    "deleted clients gone" if deleted else "clients readable",
                    status == (401 if deleted else 200),
                )
            for session in mine.sessions:
                for token in session.tokens:
                    if token.state in (LIVE, REVOKED):
                        status = stack.verify(token.value).status_code
                        tally(
                            f"{token.state} tokens", status == (200 if token.state == LIVE else 401)
                        )
                if session.alive:
                    answer = flows.refresh(http, url, session.client, session.refresh_token)
                    tally("live grants refresh", answer.status_code == 200)
    return result


def render(
    duration: float,
    workers: int,
    ledger: Ledger,
    records: list[FaultRecord],
    final: Counter[str],
) -> str:
    lines = [f"chaos run: {duration:.0f} s, {workers} workers, {len(records)} faults", ""]
    lines.append("requests by outcome:")
    operations = sorted({op for op, _ in ledger.outcomes})
    for op in operations:
        parts = [f"{outcome} {n}" for (o, outcome), n in sorted(ledger.outcomes.items()) if o == op]
        lines.append(f"  {op:<11} {', '.join(parts)}")
    total = sum(ledger.outcomes.values())
    lines += ["", f"  total {total} requests ({total / duration:.0f}/s)", ""]
    wrong = sum(ledger.wrong.values())
    lines.append(f"wrong answers: {wrong}")
    for kind, n in sorted(ledger.wrong.items()):
        lines.append(f"  {kind}: {n}")
    lines += [f"    e.g. {example}" for example in ledger.wrong_examples]
    excused = len(ledger.suspects)
    lines.append(f"  (answers excused by an outage window: {excused})")
    lines += ["", "faults (recovery = restart until the verifier accepts a valid token again and"]
    lines.append("        the issuer is healthy, process start-up included):")
    for r in records:
        data = f"; {r.data}" if r.data else ""
        lines.append(
            f"  t={r.at:6.1f}s  {r.kind:<30} down {r.down:4.1f}s  recovered in {r.recovery:4.2f}s{data}"
        )
    lines += ["", "data check after the run (load stopped):"]
    lines += [f"  {what}: {n}" for what, n in sorted(final.items())]
    return "\n".join(lines)
