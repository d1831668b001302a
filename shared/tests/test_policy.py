"""The policy file's schema: a good file parses into the values the services use; a bad one
names every problem (file, entry, key) at once, as the settings do."""

from __future__ import annotations

from pathlib import Path

import pytest

from authgate_shared.config import ConfigError, EnvReader
from authgate_shared.policy import parse_policy
from authgate_shared.policy_file import policy_from_env
from authgate_shared.services import parse_services

ALLOWED = parse_services(["https://mcp-a.example.com", "https://tools.example.com/github"])
GOOD = """
version: 1
services:
  - resource: https://mcp-a.example.com
    name: GitHub tools
    allow: {users: [OctoCat], orgs: [Acme], teams: [acme/Platform]}
    scopes: [mcp:read]
    forward_token: false
    scope_descriptions: {mcp:read: Read your repositories}
    tools:
      default: deny
      rules:
        - {method: tools/call, name: "deploy_*", scopes: [mcp:deploy], groups: [acme/ops]}
        - {method: tools/call, name: echo, scopes: [mcp:read]}
  - resource: https://tools.example.com/github
"""


def load(tmp_path: Path, text: str, **env: str) -> EnvReader:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    reader = EnvReader({"POLICY_FILE": str(path), **env})
    policy_from_env(reader, reader.raw("POLICY_FILE"), ALLOWED)
    return reader


def test_good_policy_parses_into_lookup_by_resource(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD)
    reader = EnvReader({"POLICY_FILE": str(path)})
    policy = policy_from_env(reader, reader.raw("POLICY_FILE"), ALLOWED)
    reader.check()
    assert policy is not None
    a = policy.services["https://mcp-a.example.com"]
    assert (
        a.name == "GitHub tools"
        and a.scopes == frozenset({"mcp:read"})
        and a.forward_token is False
    )
    assert (
        a.allow is not None and a.allow.users == {"octocat"} and a.allow.teams == {"acme/platform"}
    )
    octocat, x = "github|octocat", "github|x"
    assert a.allow.admits("OCTOCAT", frozenset(), octocat)
    assert a.allow.admits("x", frozenset({"acme"}), x)
    assert not a.allow.admits("x", frozenset({"other"}), x)
    tools = a.tools
    assert tools is not None and not tools.default_allow and tools.refuse_unversioned
    deploy = tools.first_match("tools/call", "deploy_prod")
    assert deploy is not None and deploy.scopes == {"mcp:deploy"} and deploy.groups == {"acme/ops"}
    assert tools.first_match("tools/call", "deploy") is None  # the glob needs its "_"
    assert tools.first_match("tools/call", "echo") is not None
    assert tools.first_match("tools/list", None) is None
    github = policy.services["https://tools.example.com/github"]
    assert github.allow is None and github.scopes is None and github.tools is None


def test_unversioned_defaults_to_service_level_without_tool_rules() -> None:
    doc = {"services": [{"resource": "https://mcp-a.example.com", "tools": {"default": "allow"}}]}
    policy, problems = parse_policy(doc, source="p", allowed=ALLOWED)
    assert problems == []
    tools = policy.services["https://mcp-a.example.com"].tools
    assert tools is not None and not tools.refuse_unversioned


def test_globs_match_star_only() -> None:
    doc = {
        "services": [
            {
                "resource": "https://mcp-a.example.com",
                "tools": {"rules": [{"method": "tools/*", "name": "a?[b]*", "groups": ["x"]}]},
            }
        ]
    }
    policy, problems = parse_policy(doc, source="p", allowed=ALLOWED)
    assert problems == []
    tools = policy.services["https://mcp-a.example.com"].tools
    assert tools is not None
    assert tools.first_match("tools/call", "a?[b]zz") is not None
    assert tools.first_match("tools/call", "ax[b]zz") is None
    assert tools.first_match("resources/read", "a?[b]") is None


BAD = """
version: 2
extra: 1
services:
  - resource: https://unknown.example.com
  - resource: https://MCP-A.example.com/
    colour: blue
    allow: {users: ["bad login!"], teams: [noslash], groups: ["oidc:x"], email_domains: [a.b]}
    scopes: ["bad scope"]
    forward_token: "yes"
    scope_descriptions: {mcp:read: 7}
    tools:
      default: maybe
      unversioned: sometimes
      rules:
        - {method: tools/call, name: "has space"}
        - {method: "", scopes: [a]}
        - {method: tools/call, name: x, scopes: [a], when: always}
        - not-a-mapping
  - name: no resource
  - resource: https://mcp-a.example.com
  - resource: https://mcp-a.example.com
"""


def test_every_problem_is_named(tmp_path: Path) -> None:
    reader = load(tmp_path, BAD)
    with pytest.raises(ConfigError) as raised:
        reader.check()
    problems = raised.value.problems
    text = "\n".join(problems)
    expected = [
        "version: must be 1",
        "extra: unknown key",
        "services[0].resource: https://unknown.example.com is not one of ALLOWED_RESOURCES",
        "services[1].resource: must be written canonically",
        "services[1].colour: unknown key",
        "services[1].allow.users: invalid entries ['bad login!']",
        "services[1].allow.teams: invalid entries ['noslash']",
        "services[1].allow.groups: invalid entries ['oidc:x'] (OIDC groups are written without",
        "services[1].allow.email_domains: is global only (ALLOWED_EMAIL_DOMAINS)",
        "services[1].scopes: invalid entries ['bad scope']",
        "services[1].forward_token: must be true or false",
        "services[1].scope_descriptions: must map scope tokens",
        "services[1].tools.default: must be allow or deny",
        "services[1].tools.unversioned: must be refuse or service-level",
        "services[1].tools.rules[0].name: must be a name or a glob",
        "services[1].tools.rules[0]: needs scopes and/or groups",
        "services[1].tools.rules[1].method: must be a JSON-RPC method name",
        "services[1].tools.rules[2].when: unknown key",
        "services[1].tools.rules[3]: must be a mapping",
        "services[2].resource: is required",
        "services[4].resource: https://mcp-a.example.com is listed twice",
    ]
    for item in expected:
        assert f"POLICY_FILE {tmp_path / 'policy.yaml'}: {item}" in text, item
    assert len(problems) == len(expected)


def test_policy_problems_join_the_settings_problems(tmp_path: Path) -> None:
    reader = load(tmp_path, "services: {}\n")
    reader.integer("SOME_NUMBER", 1)
    reader.problems.append("OTHER_SETTING is required")
    with pytest.raises(ConfigError) as raised:
        reader.check()
    assert any("services: must be a list" in p for p in raised.value.problems)
    assert "OTHER_SETTING is required" in raised.value.problems


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("services: [\n", "is not valid YAML"),
        ("- just\n- a list\n", "top level: must be a mapping"),
    ],
)
def test_unreadable_documents(tmp_path: Path, text: str, problem: str) -> None:
    reader = load(tmp_path, text)
    assert len(reader.problems) == 1 and problem in reader.problems[0]


def test_missing_file_is_named(tmp_path: Path) -> None:
    reader = EnvReader({"POLICY_FILE": str(tmp_path / "absent.yaml")})
    assert policy_from_env(reader, reader.raw("POLICY_FILE"), ALLOWED) is None
    assert reader.problems == [
        f"POLICY_FILE: cannot read {tmp_path / 'absent.yaml'}: No such file or directory"
    ]


def test_unset_means_no_policy() -> None:
    reader = EnvReader({})
    assert (
        policy_from_env(reader, reader.raw("POLICY_FILE"), ALLOWED) is None
        and reader.problems == []
    )


def test_inject_upstream_token_is_off_by_default_and_a_boolean() -> None:
    document = {
        "services": [
            {"resource": "https://mcp-a.example.com", "inject_upstream_token": True},
            {"resource": "https://tools.example.com/github"},
        ]
    }
    policy, problems = parse_policy(document, source="p.yaml", allowed=ALLOWED)
    assert problems == []
    assert policy.services["https://mcp-a.example.com"].inject_upstream_token is True
    assert policy.services["https://tools.example.com/github"].inject_upstream_token is False


@pytest.mark.parametrize(
    ("service", "problem"),
    [
        (
            {"inject_upstream_token": "yes"},
            "p.yaml: services[0].inject_upstream_token: must be true or false, got 'yes'",
        ),
        (
            {"inject_upstream_token": True, "forward_token": True},
            "p.yaml: services[0].forward_token: must not be true on a service with"
            " inject_upstream_token",
        ),
    ],
)
def test_inject_upstream_token_problems_are_named(service: dict[str, object], problem: str) -> None:
    document = {"services": [{"resource": "https://mcp-a.example.com", **service}]}
    _, problems = parse_policy(document, source="p.yaml", allowed=ALLOWED)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_inject_upstream_token_with_forward_token_false_is_fine() -> None:
    service = {"resource": "https://mcp-a.example.com", "inject_upstream_token": True}
    document = {"services": [{**service, "forward_token": False}]}
    policy, problems = parse_policy(document, source="p.yaml", allowed=ALLOWED)
    assert problems == [] and policy.services["https://mcp-a.example.com"].inject_upstream_token
