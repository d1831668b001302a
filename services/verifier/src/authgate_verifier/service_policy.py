"""The policy file's per-service and per-tool rules, compiled once at start-up for /verify.

One dict lookup finds a service's rules by the resource the route names (``ServiceRules`` per
resource; the number of services costs nothing per request). A service's rules then decide on
the token (user, ``groups`` claim, scopes) and, when it has tool rules, on the request headers
``Mcp-Method`` / ``Mcp-Name`` the proxy passes on with the request it asks about.

Those headers are trusted only when ``MCP-Protocol-Version`` is 2026-07-28 or later: from that
revision on a server MUST reject a request whose headers disagree with its JSON-RPC body
(streamable HTTP transport), so a client cannot show the verifier one tool and the server
another. Older or absent versions follow the service's ``unversioned`` choice: refuse (the
default when there are tool rules; fail closed) or judge at service level only.

A missing scope is a 403 ``insufficient_scope`` whose challenge names the scopes to step up to
(RFC 6750 §3.1; MCP 2025-11-25 "Scope Selection Strategy"); a group or user rule is a 403
``access_denied`` with no challenge: no token the client could obtain would pass.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass

from authgate_shared.errors import ACCESS_DENIED, INSUFFICIENT_SCOPE
from authgate_shared.policy import Allow, Policy, ServicePolicy
from authgate_shared.policy_rules import TOOLS_CALL, ToolPolicy, ToolRule

from .decision import Denial, VerifiedToken

# MCP streamable HTTP, revision 2026-07-28: servers validate Mcp-Method/Mcp-Name against the body.
HEADERS_TRUSTED_FROM = b"2026-07-28"
_DATE = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}").fullmatch
MAX_MEMO = 1024
OTHER = "other"

NOT_ALLOWED = Denial(403, ACCESS_DENIED, "service_denied", "you may not use this service")
UNVERSIONED = Denial(
    403,
    ACCESS_DENIED,
    "unversioned",
    "this service decides per tool: MCP-Protocol-Version 2026-07-28 or later is required",
)
NO_METHOD = Denial(403, ACCESS_DENIED, "no_mcp_method", "an MCP request needs an Mcp-Method header")
REPEATED = Denial(403, ACCESS_DENIED, "bad_mcp_headers", "repeated Mcp-Method or Mcp-Name header")
BAD_ENCODING = Denial(403, ACCESS_DENIED, "bad_mcp_headers", "malformed Mcp-Method or Mcp-Name")
TOOL_DENIED = Denial(403, ACCESS_DENIED, "tool_denied", "this tool is not allowed on this service")


def header_text(value: bytes) -> str | None:
    """A header value as the server reads it: MCP 2026-07-28 sends a value that is not plain
    visible ASCII as ``=?base64?<UTF-8, base64>?=``, and servers compare the decoded text with
    the body. Decoded here too, so an encoded spelling of a tool's name meets the same rules;
    a malformed one is None (refused; its server would refuse it as a mismatch)."""
    if not (value.startswith(b"=?base64?") and value.endswith(b"?=")) or len(value) < 11:
        return value.decode("latin-1")
    payload = value[9:-2]
    try:
        decoded = base64.b64decode(payload, validate=True)
        if base64.b64encode(decoded) != payload:  # canonical only, as the SDK's server
            return None
        return decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the audit line and the metrics say of a request judged on its MCP headers."""

    method: str | None
    tool: str | None
    label: str
    """Bounded metrics label: the matched rule's name (or method) pattern, else ``other``."""
    key: tuple[str, str, str]
    """The metrics key (service, label, decision) when no rule refuses the token."""
    default_denied: bool
    """A tools/call no rule matches, on a service whose default is deny."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: ToolRule | None
    denial_groups: Denial | None
    denial_scope: Denial | None
    label: str


class ServiceRules:
    def __init__(self, service: ServicePolicy, base_scopes: frozenset[str]) -> None:
        self.resource = service.resource
        self.allow: Allow | None = service.allow
        self.forward_token = service.forward_token
        """None: FORWARD_AUTH_TOKEN_HEADER decides."""
        self.inject_upstream_token = service.inject_upstream_token
        """The 200 carries the user's upstream token as Authorization (upstream.py)."""
        self.tools: ToolPolicy | None = service.tools
        self._base_scopes = service.scopes if service.scopes is not None else base_scopes
        self._memo: dict[tuple[bytes, bytes | None], tuple[_Compiled, Outcome]] = {}
        self._prepared = {rule: self._compile(rule) for rule in (service.tools or _NONE).rules}
        self._unmatched = _Compiled(None, None, None, OTHER)

    def _compile(self, rule: ToolRule) -> _Compiled:
        label = rule.name or rule.method
        groups = None
        if rule.groups:
            groups = Denial(403, ACCESS_DENIED, "group_required", f"{label} needs a group")
        scope = None
        if rule.scopes:
            needed = " ".join(sorted(rule.scopes | self._base_scopes))
            missing = " ".join(sorted(rule.scopes))
            description = f"{label} needs scope: {missing}"
            scope = Denial(403, INSUFFICIENT_SCOPE, "insufficient_scope", description, needed)
        return _Compiled(rule, groups, scope, label)

    def check_token(self, token: VerifiedToken) -> Denial | None:
        """Service level: who may use the service at all (same rule as the issuer's)."""
        allow = self.allow  # the token's sub says whether its user name is GitHub's or OIDC's
        if allow is not None and not allow.admits(token.username, token.groups, token.sub):
            return NOT_ALLOWED
        return None

    def check_request(
        self, token: VerifiedToken, headers: list[tuple[bytes, bytes]]
    ) -> tuple[Denial | None, Outcome | None]:
        """Tool level, for a service with tool rules (``self.tools`` set)."""
        tools = self.tools
        assert tools is not None
        found = dict(headers)  # one C-level pass; the last of repeated names wins, so:
        if len(found) != len(headers) and _repeated(headers):
            return REPEATED, None
        version = found.get(b"mcp-protocol-version")
        if version is None or not _trusted(version):
            return (UNVERSIONED if tools.refuse_unversioned else None), None
        method = found.get(b"mcp-method")
        if method is None:
            # GET (event stream) and DELETE (session end) carry no JSON-RPC message; a POST does,
            # and its server would refuse it without the header, so it is refused here too.
            http_method = found.get(b"x-forwarded-method", b"POST").upper()
            return (NO_METHOD if http_method == b"POST" else None), None
        judged = self._judge(tools, method, found.get(b"mcp-name"))
        if judged is None:
            return BAD_ENCODING, None
        compiled, outcome = judged
        rule = compiled.rule
        if rule is None:
            return (TOOL_DENIED if outcome.default_denied else None), outcome
        if compiled.denial_groups is not None and token.groups.isdisjoint(rule.groups):
            return compiled.denial_groups, outcome
        if compiled.denial_scope is not None and not rule.scopes <= token.scopes:
            return compiled.denial_scope, outcome
        return None, outcome

    def _judge(
        self, tools: ToolPolicy, method: bytes, name: bytes | None
    ) -> tuple[_Compiled, Outcome] | None:
        """The rule for the raw (method, name), memoised with its audit/metrics view; None when
        a header is a malformed ``=?base64?`` value."""
        key = (method, name)
        judged = self._memo.get(key)
        if judged is None:
            method_text = header_text(method)
            name_text = None if name is None else header_text(name)
            if method_text is None or (name is not None and name_text is None):
                return None
            rule = tools.first_match(method_text, name_text)
            compiled = self._unmatched if rule is None else self._prepared[rule]
            denied = rule is None and method_text == TOOLS_CALL and not tools.default_allow
            outcome = Outcome(
                method_text,
                name_text,
                compiled.label,
                (self.resource, compiled.label, "tool_denied" if denied else "allowed"),
                denied,
            )
            judged = (compiled, outcome)
            if len(self._memo) >= MAX_MEMO:  # client-chosen keys: bounded, evict all
                self._memo.clear()
            self._memo[key] = judged
        return judged


def _repeated(headers: list[tuple[bytes, bytes]]) -> bool:
    names = [k for k, _ in headers if k in (b"mcp-method", b"mcp-name")]
    return len(names) != len(set(names))


_VERSIONS: dict[bytes, bool] = {}


def _trusted(version: bytes) -> bool:
    """A revision whose servers check the headers against the body (memoised, bounded)."""
    trusted = _VERSIONS.get(version)
    if trusted is None:
        trusted = bool(_DATE(version)) and version >= HEADERS_TRUSTED_FROM
        if len(_VERSIONS) >= 64:
            _VERSIONS.clear()
        _VERSIONS[version] = trusted
    return trusted


_NONE = ToolPolicy(default_allow=True, refuse_unversioned=False, rules=())


def compile_policy(
    policy: Policy | None, scopes_for: Callable[[str], frozenset[str]]
) -> dict[str, ServiceRules]:
    """Rules by resource URI. ``scopes_for``: a resource's required scopes (REQUIRED_SCOPES with
    the policy's merged in, as its challenges name them)."""
    if policy is None:
        return {}
    return {uri: ServiceRules(service, scopes_for(uri)) for uri, service in policy.services.items()}
