"""The verifier bench's policy case (issue #18): a POLICY_FILE of 100 services x 20 tool rules
against none, the same request (a tools/call of MCP revision 2026-07-28) in the same run.

The rules are globs and the tool called matches only the last of its service's rules, the
longest scan there is; the lookup by service is one dict get and a service's (method, name)
answers are memoised, so neither number should show in the rate.
"""

from __future__ import annotations

from pathlib import Path

from testsupport.verifier import MCP_A

SERVICES = 100
RULES = 20
TOOL_HEADERS = {
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/call",
    "Mcp-Name": f"tool_{RULES - 1}_deploy",
}


def resources() -> list[str]:
    """MCP_A plus 99 others: what ALLOWED_RESOURCES lists for the policy's services."""
    return [MCP_A, *(f"https://svc{i}.example.com" for i in range(1, SERVICES))]


def write_policy(path: Path) -> Path:
    lines = ["services:"]
    for resource in resources():
        lines += [f"  - resource: {resource}", "    tools:", "      rules:"]
        lines += [
            f'        - {{method: tools/call, name: "tool_{j}_*", scopes: ["mcp:*"]}}'
            for j in range(RULES)
        ]
    path.write_text("\n".join(lines) + "\n")
    return path
