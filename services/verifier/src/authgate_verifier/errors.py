"""Failures that are the verifier's, not the client's."""

from __future__ import annotations


class RedisUnavailable(Exception):
    """Redis did not answer: the answer is 503 + Retry-After, never 200 and never 401 (a 401
    would send every MCP client into a re-login loop during an outage)."""
