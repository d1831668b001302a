"""One log line per /verify decision, when the operator asks for it (``LOG_DECISIONS``).

nginx replaces the verifier's 401 body with its own page, so without a log an operator cannot
see why a request was refused. ``denied`` logs every refusal, ``all`` also allowed requests,
sampled (``LOG_DECISIONS_SAMPLE``), ``tools`` every refusal and the allowed requests judged on
the policy's tool rules (sampled the same way): the audit trail of tool calls. A line names the
reason, the resource, the client, the user and, when judged on them, the MCP method and tool;
never token material or other request headers. Off by default: the hot path then pays one
attribute test per decision (the caller checks ``allowed``/``denied`` before calling).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .decision import Denial, VerifiedToken
from .service_policy import Outcome

LOG = logging.getLogger("authgate.verifier.decisions")


class DecisionLog:
    def __init__(self, mode: str, sample: float, random: Callable[[], float]) -> None:
        self.denied = mode in ("denied", "all", "tools")
        self.allowed = mode in ("all", "tools")
        self._tools_only = mode == "tools"
        self._sample = sample
        self._random = random

    def log_allowed(self, token: VerifiedToken, resource: str, outcome: Outcome | None) -> None:
        if self._tools_only and outcome is None:
            return
        if self._sample < 1.0 and self._random() >= self._sample:
            return
        self._line("allowed", 200, "allowed", resource, token, outcome)

    def log_denied(
        self,
        denial: Denial,
        resource: str | None,
        token: VerifiedToken | None,
        outcome: Outcome | None = None,
    ) -> None:
        self._line("denied", denial.status, denial.reason, resource, token, outcome)

    @staticmethod
    def _line(
        decision: str,
        status: int,
        reason: str,
        resource: str | None,
        token: VerifiedToken | None,
        outcome: Outcome | None,
    ) -> None:
        client = token.client_id if token is not None else None
        user = token.sub if token is not None else None
        method = outcome.method if outcome is not None else None
        tool = outcome.tool if outcome is not None else None
        fields = {
            "event": "decision",
            "decision": decision,
            "status": status,
            "reason": reason,
            "resource": resource,
            "client_id": client,
            "user": user,
            "mcp_method": method,
            "mcp_name": tool,
        }
        LOG.info(
            "%s %d %s resource=%s client=%s user=%s method=%s name=%s",
            decision,
            status,
            reason,
            resource,
            client,
            user,
            method,
            tool,
            extra={"fields": fields},
        )
