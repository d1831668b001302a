"""Tool rules of the policy file: matching ``Mcp-Method`` / ``Mcp-Name`` against exact names and
simple globs (``*`` only: any run of characters; nothing else is special, so a tool name with
``?`` or ``[`` is matched literally).

Which requests they apply to is the verifier's business (MCP 2026-07-28 makes servers reject a
header/body mismatch, so only requests of that revision or later can be judged on the headers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A name or glob: printable ASCII without space, comma or quote (what a header can carry and a
# YAML reader would not mistake). \Z, not $ (which also matches before a final newline): a rule
# named "deploy\n" could never match a header, so it would restrict nothing.
GLOB_NAME_RE = re.compile(r"^[\x21\x23-\x2b\x2d-\x7e]{1,256}\Z")
TOOLS_CALL = "tools/call"


def _glob(pattern: str) -> re.Pattern[str] | None:
    if "*" not in pattern:
        return None
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


@dataclass(frozen=True, slots=True)
class ToolRule:
    method: str
    name: str | None
    """None: any name (or none) for ``method``."""
    scopes: frozenset[str]
    """All required (RFC 6750 §3.1: a missing one is insufficient_scope, the client can step up)."""
    groups: frozenset[str]
    """Any one suffices (membership cannot be stepped up to: access_denied)."""
    _method_glob: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _name_glob: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_method_glob", _glob(self.method))
        object.__setattr__(self, "_name_glob", _glob(self.name or ""))

    def matches(self, method: str, name: str | None) -> bool:
        glob = self._method_glob
        if not (glob.fullmatch(method) if glob is not None else method == self.method):
            return False
        if self.name is None:
            return True
        if name is None:
            return False
        glob = self._name_glob
        return bool(glob.fullmatch(name)) if glob is not None else name == self.name


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    default_allow: bool
    """For ``tools/call`` of a tool no rule matches; other methods no rule matches pass."""
    refuse_unversioned: bool
    """Requests whose headers cannot be trusted: refused (True) or judged at service level."""
    rules: tuple[ToolRule, ...]

    def first_match(self, method: str, name: str | None) -> ToolRule | None:
        """The first rule in file order that matches (callers memoise: linear in the rules)."""
        for rule in self.rules:
            if rule.matches(method, name):
                return rule
        return None

    def listed_names(self) -> frozenset[str]:
        """Exact tool names the rules mention: the only ones used as metrics labels."""
        return frozenset(r.name for r in self.rules if r.name and "*" not in r.name)
