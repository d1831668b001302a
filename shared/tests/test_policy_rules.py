"""Tool rules: exact names and ``*`` globs for ``Mcp-Method`` / ``Mcp-Name``, first match in file
order, and the names that may become metrics labels."""

from __future__ import annotations

import dataclasses

import pytest

from authgate_shared.policy import METHOD_RE
from authgate_shared.policy_rules import GLOB_NAME_RE, TOOLS_CALL, ToolPolicy, ToolRule

NONE: frozenset[str] = frozenset()


def rule(method: str = TOOLS_CALL, name: str | None = None) -> ToolRule:
    return ToolRule(method=method, name=name, scopes=NONE, groups=NONE)


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("echo", "echo", True),
        ("echo", "echo2", False),
        ("echo", "Echo", False),
        ("echo", "", False),
        ("deploy_*", "deploy_", True),
        ("deploy_*", "deploy_prod", True),
        ("deploy_*", "deploy_prod\nx", True),  # "*" is any run of characters, newlines too
        ("deploy_*", "x_deploy_prod", False),  # the whole name must match
        ("*_admin", "db_admin", True),
        ("*_admin", "db_admin_x", False),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "acb", False),
        ("*", "anything", True),
        # Only "*" is special: "?", "[" and "." are literal characters.
        ("get?", "get?", True),
        ("get?", "gets", False),
        ("tool[1]", "tool[1]", True),
        ("tool[1]", "tool1", False),
        ("a.b*", "a.bc", True),
        ("a.b*", "axbc", False),
    ],
)
def test_names_match_exactly_or_by_glob(pattern: str, name: str, expected: bool) -> None:
    assert rule(name=pattern).matches(TOOLS_CALL, name) is expected


def test_methods_match_exactly_or_by_glob() -> None:
    assert rule(method="tools/call").matches("tools/call", None)
    assert not rule(method="tools/call").matches("tools/list", None)
    assert not rule(method="tools/call").matches("tools/callx", None)
    assert rule(method="tools/*").matches("tools/list", None)
    assert not rule(method="tools/*").matches("resources/list", None)
    # The method decides first: a matching name does not rescue another method.
    assert not rule(method="tools/call", name="echo").matches("tools/list", "echo")


def test_a_rule_without_name_takes_any_name_or_none() -> None:
    assert rule(name=None).matches(TOOLS_CALL, None)
    assert rule(name=None).matches(TOOLS_CALL, "whatever")


def test_a_rule_with_a_name_needs_one() -> None:
    assert not rule(name="echo").matches(TOOLS_CALL, None)
    assert not rule(name="*").matches(TOOLS_CALL, None)


def test_first_match_is_in_file_order() -> None:
    deploy, anything, echo = rule(name="deploy_*"), rule(name=None), rule(name="echo")
    policy = ToolPolicy(
        default_allow=False, refuse_unversioned=True, rules=(deploy, anything, echo)
    )
    assert policy.first_match(TOOLS_CALL, "deploy_x") is deploy
    assert policy.first_match(TOOLS_CALL, "echo") is anything  # not the later exact rule
    assert policy.first_match("tools/list", None) is None
    assert ToolPolicy(False, True, (echo,)).first_match(TOOLS_CALL, "other") is None
    assert ToolPolicy(False, True, ()).first_match(TOOLS_CALL, "echo") is None


def test_only_exact_names_are_listed() -> None:
    rules = (rule(name="echo"), rule(name="deploy_*"), rule(name=None), rule(name="get?"))
    assert ToolPolicy(True, False, rules).listed_names() == {"echo", "get?"}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("echo", True),
        ("x", True),
        ("a" * 256, True),
        ("a" * 257, False),
        ("", False),
        ("deploy_*", True),
        ("!#$%&'()*+-./:;<=>?@[\\]^_`{|}~", True),
        ("two words", False),
        ("a,b", False),
        ('a"b', False),
        ("tab\t", False),
        ("del\x7f", False),
        ("ünï", False),
        ("echo\n", False),
    ],
)
def test_glob_name_characters(value: str, ok: bool) -> None:
    assert (GLOB_NAME_RE.match(value) is not None) is ok


@pytest.mark.parametrize("method", ["tools/call\n", "tools/*\n", ""])
def test_a_rule_method_ends_where_the_text_ends(method: str) -> None:
    # A method with a final newline (a YAML block scalar) could never match a header: refused.
    assert METHOD_RE.match(method) is None
    assert METHOD_RE.match(method.strip() or "tools/call") is not None


def test_rules_and_policies_cannot_be_changed() -> None:
    # Compiled once at start-up and shared by every request (and a rule is a dict key there).
    echo = rule(name="echo")
    policy = ToolPolicy(True, False, (echo,))
    assert {echo: 1}[rule(name="echo")] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        echo.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.default_allow = False  # type: ignore[misc]
