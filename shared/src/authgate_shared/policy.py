"""The access policy file (``POLICY_FILE``): who may use which MCP service and which tool.

Both services read it once at start-up into their frozen settings; this module only parses a
mapping (the YAML document) into frozen values and names every problem it finds, the way
``config.EnvReader`` does for variables. The schema (documented in docs/access-control.md):

    version: 1
    services:
      - resource: https://mcp-a.example.com     # canonical, one of ALLOWED_RESOURCES
        name: GitHub tools                       # consent page display name
        allow: {users: [octocat, "oidc:alice"], orgs: [acme], teams: [acme/platform],
                groups: [Platform Engineers]}       # policy_allow: GitHub and OpenID Connect
        scopes: [mcp:read]                       # default: REQUIRED_SCOPES
        forward_token: false                     # default: FORWARD_AUTH_TOKEN_HEADER
        inject_upstream_token: false             # true: the verifier's 200 carries the user's
                                                 # upstream token as Authorization
        scope_descriptions: {mcp:read: Read your repositories}
        tools:
          default: allow                         # tools/call matching no rule: allow | deny
          unversioned: refuse                    # refuse | service-level
          rules:
            - {method: tools/call, name: "deploy_*", scopes: [mcp:deploy], groups: [acme/ops]}
            - {method: tools/call, name: "admin_*", groups: ["oidc:Platform Engineers"]}

A service without ``allow`` follows the global allow lists (``ALLOWED_GITHUB_*``,
``ALLOWED_OIDC_*``, ``ALLOWED_EMAIL_DOMAINS``; checked at login). Groups compare
case-insensitively (GitHub's logins and slugs are; the verifier lower-cases the claim), so they
are lower-cased here; a tool rule names an OpenID Connect group as ``oidc:<group>``, as the
token carries it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .policy_allow import LOGIN_RE as LOGIN_RE
from .policy_allow import OIDC, parse_allow, tool_rule_groups
from .policy_allow import TEAM_RE as TEAM_RE
from .policy_allow import Allow as Allow
from .policy_rules import GLOB_NAME_RE, ToolPolicy, ToolRule
from .services import ServiceList
from .urls import canonical_uri

SCOPE_RE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3 scope-token
METHOD_RE = re.compile(r"^[A-Za-z0-9_./*-]{1,128}\Z")
SERVICE_KEYS = {"resource", "name", "allow", "scopes", "forward_token", "scope_descriptions"}
SERVICE_KEYS |= {"tools", "inject_upstream_token"}
RULE_KEYS = {"method", "name", "scopes", "groups"}


@dataclass(frozen=True, slots=True)
class ServicePolicy:
    resource: str
    name: str = ""
    allow: Allow | None = None
    """None: the global ALLOWED_GITHUB_* lists (the login check) decide."""
    scopes: frozenset[str] | None = None
    """None: REQUIRED_SCOPES decides."""
    forward_token: bool | None = None
    scope_descriptions: Mapping[str, str] = field(default_factory=dict)
    tools: ToolPolicy | None = None
    inject_upstream_token: bool = False
    """The verifier's 200 carries the user's upstream token (RFC 8693 exchange at the issuer)
    as ``Authorization``, replacing the client's token on its way to the MCP server."""


@dataclass(frozen=True, slots=True)
class Policy:
    services: Mapping[str, ServicePolicy]
    """By canonical resource URI: one dict lookup per request, whatever their number."""


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{self.source}: {where}: {message}")


def _strings(value: Any, where: str, problems: _Problems, pattern: re.Pattern[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(where, "must be a list of strings")
        return []
    bad = [v for v in value if not pattern.match(v)]
    if bad:
        problems.add(where, f"invalid entries {bad}")
    return [v for v in value if pattern.match(v)]


def _tools(value: Any, where: str, problems: _Problems) -> ToolPolicy | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.add(where, "must be a mapping with default, unversioned and rules")
        return None
    for key in set(value) - {"default", "unversioned", "rules"}:
        problems.add(f"{where}.{key}", "unknown key (expected default, unversioned, rules)")
    default = value.get("default", "allow")
    if default not in ("allow", "deny"):
        problems.add(f"{where}.default", f"must be allow or deny, got {default!r}")
    rules_raw = value.get("rules")
    rules_raw = [] if rules_raw is None else rules_raw
    if not isinstance(rules_raw, list):
        problems.add(f"{where}.rules", "must be a list")
        rules_raw = []
    rules: list[ToolRule] = []
    for i, raw in enumerate(rules_raw):
        rule = _rule(raw, f"{where}.rules[{i}]", problems)
        if rule is not None:
            rules.append(rule)
    restrictive = bool(rules_raw) or default == "deny"
    unversioned = value.get("unversioned", "refuse" if restrictive else "service-level")
    if unversioned not in ("refuse", "service-level"):
        problems.add(
            f"{where}.unversioned", f"must be refuse or service-level, got {unversioned!r}"
        )
    return ToolPolicy(
        default_allow=default != "deny",
        refuse_unversioned=unversioned != "service-level",
        rules=tuple(rules),
    )


def _rule(raw: Any, where: str, problems: _Problems) -> ToolRule | None:
    if not isinstance(raw, dict):
        problems.add(where, "must be a mapping with method, name, scopes and/or groups")
        return None
    for key in set(raw) - RULE_KEYS:
        problems.add(f"{where}.{key}", "unknown key (expected method, name, scopes, groups)")
    method, name = raw.get("method"), raw.get("name")
    ok = True
    if not isinstance(method, str) or not METHOD_RE.match(method):
        problems.add(f"{where}.method", f"must be a JSON-RPC method name or glob, got {method!r}")
        ok = False
    if name is not None and (not isinstance(name, str) or not GLOB_NAME_RE.match(name)):
        problems.add(f"{where}.name", f"must be a name or a glob using *, got {name!r}")
        ok = False
    scopes = _strings(raw.get("scopes"), f"{where}.scopes", problems, SCOPE_RE)
    groups = tool_rule_groups(raw.get("groups"), f"{where}.groups", problems.add)
    if not scopes and not groups and "scopes" not in raw and "groups" not in raw:
        problems.add(where, "needs scopes and/or groups (a rule requiring nothing decides nothing)")
        ok = False
    if not ok:
        return None
    assert isinstance(method, str)
    return ToolRule(method, name, frozenset(scopes), frozenset(groups))


def parse_policy(
    document: Any, *, source: str, allowed: ServiceList | None
) -> tuple[Policy, list[str]]:
    """The policy and every problem found (each naming the file and the entry). With problems
    the policy holds the entries that were valid, so later checks can name theirs too; it must
    not be used (the settings stop on the problems)."""
    problems = _Problems(source)
    if not isinstance(document, dict):
        problems.add("top level", "must be a mapping with version and services")
        return Policy(services={}), problems.items
    for key in set(document) - {"version", "services"}:
        problems.add(str(key), "unknown key (expected version, services)")
    if document.get("version", 1) != 1:
        problems.add("version", f"must be 1, got {document.get('version')!r}")
    raw_services = document.get("services")
    raw_services = [] if raw_services is None else raw_services
    if not isinstance(raw_services, list):
        problems.add("services", "must be a list")
        raw_services = []
    services: dict[str, ServicePolicy] = {}
    for i, raw in enumerate(raw_services):
        service = _service(raw, f"services[{i}]", problems, allowed)
        if service is None:
            continue
        if service.resource in services:
            problems.add(f"services[{i}].resource", f"{service.resource} is listed twice")
        services[service.resource] = service
    return Policy(services=services), problems.items


def _service(
    raw: Any, where: str, problems: _Problems, allowed: ServiceList | None
) -> ServicePolicy | None:
    if not isinstance(raw, dict):
        problems.add(where, "must be a mapping with at least resource")
        return None
    for key in set(raw) - SERVICE_KEYS:
        problems.add(f"{where}.{key}", f"unknown key (expected {', '.join(sorted(SERVICE_KEYS))})")
    resource = _resource(raw.get("resource"), f"{where}.resource", problems, allowed)
    name = raw.get("name", "")
    if not isinstance(name, str) or len(name) > 100:
        problems.add(f"{where}.name", "must be a string of at most 100 characters")
        name = ""
    scopes = raw.get("scopes")
    scope_set = None
    if scopes is not None:
        scope_set = frozenset(_strings(scopes, f"{where}.scopes", problems, SCOPE_RE))
    forward = raw.get("forward_token")
    if forward is not None and not isinstance(forward, bool):
        problems.add(f"{where}.forward_token", f"must be true or false, got {forward!r}")
        forward = None
    inject = raw.get("inject_upstream_token", False)
    if not isinstance(inject, bool):
        problems.add(f"{where}.inject_upstream_token", f"must be true or false, got {inject!r}")
        inject = False
    if inject and forward:
        # The client's token would reach the MCP server as X-Auth-Token next to the upstream
        # token: the passthrough injection exists to avoid (MCP security best practices).
        problems.add(
            f"{where}.forward_token",
            "must not be true on a service with inject_upstream_token: the client's token"
            " would reach the MCP server beside the upstream token",
        )
    descriptions = raw.get("scope_descriptions")
    descriptions = {} if descriptions is None else descriptions
    if not isinstance(descriptions, dict) or not all(
        isinstance(k, str) and SCOPE_RE.match(k) and isinstance(v, str) and 0 < len(v) <= 200
        for k, v in descriptions.items()
    ):
        problems.add(f"{where}.scope_descriptions", "must map scope tokens to texts (1-200 chars)")
        descriptions = {}
    allow = parse_allow(raw.get("allow"), f"{where}.allow", problems.add)
    tools = _tools(raw.get("tools"), f"{where}.tools", problems)
    if resource is None:
        return None
    return ServicePolicy(
        resource,
        name,
        allow,
        scope_set,
        forward,
        dict(descriptions),
        tools,
        inject_upstream_token=inject,
    )


def _resource(
    value: Any, where: str, problems: _Problems, allowed: ServiceList | None
) -> str | None:
    if not isinstance(value, str):
        problems.add(where, "is required: the service's canonical resource URI")
        return None
    try:
        uri = canonical_uri(value)
    except ValueError:
        problems.add(where, f"is not an absolute URI: {value!r}")
        return None
    if uri != value.rstrip("/"):
        problems.add(where, f"must be written canonically, as {uri}")
        return None
    if allowed is not None and uri not in allowed:
        problems.add(where, f"{uri} is not one of ALLOWED_RESOURCES")
        return None
    return uri


def refused_resources(
    policy: Policy | None,
    services: ServiceList,
    resources: Iterable[str],
    login: str,
    groups: Iterable[str],
    *,
    sub: str,
) -> list[str]:
    """The services among ``resources`` whose ``allow`` does not admit the user: the issuer's
    rule at the callback and at refresh, the same as the verifier's per request. ``sub``: the
    token's (``github|<login>`` or ``oidc|<subject>``), which says who ``login`` is."""
    if policy is None:
        return []
    held = frozenset(g.lower() for g in groups)
    refused = []
    for resource in resources:
        service = policy.services.get(services.service_for(resource) or resource)
        allow = service.allow if service is not None else None
        if service is not None and allow is not None and not allow.admits(login, held, sub):
            refused.append(service.resource)
    return refused


def groups_mentioned(policy: Policy) -> frozenset[str]:
    """Every GitHub organisation and ``org/team`` the policy names (allow lists, tool rules)."""
    found: set[str] = set()
    for service in policy.services.values():
        if service.allow is not None:
            found |= service.allow.orgs | service.allow.teams
        for rule in service.tools.rules if service.tools is not None else ():
            found |= {group for group in rule.groups if not group.startswith(OIDC)}
    return frozenset(found)


def policy_groups(policy: Policy | None) -> frozenset[str]:
    """Every OpenID Connect group the policy names, lower-case, without ``oidc:``: the groups
    the issuer puts in an OIDC user's token when the user is in them (login.oidc_access)."""
    found: set[str] = set()
    for service in policy.services.values() if policy is not None else ():
        if service.allow is not None:
            found |= service.allow.groups
        for rule in service.tools.rules if service.tools is not None else ():
            found |= {g[len(OIDC) :] for g in rule.groups if g.startswith(OIDC)}
    return frozenset(found)
