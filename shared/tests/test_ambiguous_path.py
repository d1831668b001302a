"""``ambiguous_path``: every spelling that a proxy or server may route differently from its text.

Both the verifier's derived resources (the path prefix of a shared host picks the service) and
bound ones (a resource URI's path) rely on it, so each rule has its own spelling here, with the
unambiguous paths beside them as the control (RFC 3986 §2.1, §3.3, §5.2.4).
"""

from __future__ import annotations

import pytest

from authgate_shared.urls import ambiguous_path

UNAMBIGUOUS = [
    "",
    "/",
    "/github",
    "/github/",
    "/github/mcp",
    "/github/mcp/",
    "/a.b/c-d_e~f",
    "/github/..x",  # a segment that merely starts with dots
    "/github/.well-known",
    "/github/x.",
    "/github/!$&'()*+,=:@",
]


@pytest.mark.parametrize("path", UNAMBIGUOUS)
def test_unambiguous_paths(path: str) -> None:
    assert ambiguous_path(path) is False


AMBIGUOUS = [
    # Dot segments, anywhere, trailing too: RFC 3986 §5.2.4 removes or merges them.
    "/github/../jira/mcp",
    "/github/./x",
    "/github/..",
    "/github/.",
    "/github/../",
    "/./github",
    "/../github",
    # Empty segments: "//" is collapsed by some servers and proxies, kept by others.
    "/github//x",
    "//jira/x",
    "/github//",
    # Percent-encoding: proxies route on the decoded path.
    "/github/%2e%2e/jira/mcp",
    "/github/x%2f..%2f..%2fjira",
    "/%6Aira/x",
    # Backslashes: some servers read them as "/".
    "/github/..%5cjira",
    "/github/..\\jira",
    "/github\\x",
    # ";" parameters: some servers strip them.
    "/jira;x",
    "/jira;/x",
    # Not printable ASCII, spaces, or not an absolute path at all.
    "/github/\x7f",
    "/github/\x1f",
    "/github/\t",
    "/github/ x",
    "/gïthub",
    "github/mcp",
    "*",
    "http://tools.example.com/jira",
]


@pytest.mark.parametrize("path", AMBIGUOUS)
def test_ambiguous_paths(path: str) -> None:
    assert ambiguous_path(path) is True
