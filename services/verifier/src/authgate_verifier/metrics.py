"""Decision counters, exposed on ``GET /metrics`` in the Prometheus text format.

Successful requests are counted, never logged (one log line per request would cost more than
the verification). Plain dict increments keep the hot path free of prometheus_client's locks;
a collector turns them into metric families on scrape. Counts are per worker process.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from authgate_shared.server.connection import CONNECTIONS

from .decision import Denial
from .revocation import RevocationChecker
from .service_policy import Outcome
from .token_cache import TokenCache

# Upper bounds (seconds) of the /verify latency buckets: the interesting range is 0.1-10 ms.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)


class LatencyHistogram:
    """A lock-free histogram (one bisect and two additions per observation); the event loop is
    single-threaded, so plain list increments are safe and cost far less than prometheus_client's
    locked Histogram on every request."""

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.total += seconds

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        cumulative, running = [], 0
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            cumulative.append((bound, float(running)))
        return HistogramMetricFamily(name, documentation, buckets=cumulative, sum_value=self.total)


class Metrics(Collector):
    def __init__(self, cache: TokenCache, revocation: RevocationChecker) -> None:
        self.decisions: Counter[str] = Counter()
        self.verify_latency = LatencyHistogram()
        # Requests to the other routes (health, metadata, metrics, unknown) by route label.
        self.requests: Counter[str] = Counter()
        self._cache = cache
        self._revocation = revocation
        # Judged MCP requests by (service, tool, decision): services and tools only as the policy
        # names them (tools it does not name are "other"), so the label set stays bounded.
        self.tools: Counter[tuple[str, str, str]] = Counter()
        # Token exchanges for injected upstream tokens, by outcome (upstream.OUTCOMES).
        self.upstream_exchanges: Counter[str] = Counter()
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)

    def count_tool(self, outcome: Outcome, denial: Denial | None) -> None:
        if denial is None or denial.reason == "tool_denied":
            self.tools[outcome.key] += 1
        else:
            self.tools[(outcome.key[0], outcome.label, denial.reason)] += 1

    def collect(self) -> Iterator[Metric]:
        decisions = CounterMetricFamily(
            "authgate_verifier_decisions", "ForwardAuth decisions by outcome", labels=["outcome"]
        )
        for outcome, count in sorted(self.decisions.items()):
            decisions.add_metric([outcome], count)
        yield decisions
        tools = CounterMetricFamily(
            "authgate_verifier_tool_decisions",
            "MCP requests judged by the policy's tool rules",
            labels=["service", "tool", "decision"],
        )
        for labels, count in sorted(self.tools.items()):
            tools.add_metric(list(labels), count)
        yield tools
        exchanges = CounterMetricFamily(
            "authgate_verifier_upstream_exchanges",
            "Token exchanges at the issuer for injected upstream tokens, by outcome",
            labels=["outcome"],
        )
        for outcome, count in sorted(self.upstream_exchanges.items()):
            exchanges.add_metric([outcome], count)
        yield exchanges
        yield self.verify_latency.family(
            "authgate_verifier_verify_duration_seconds", "Time to answer /verify, every outcome"
        )
        requests = CounterMetricFamily(
            "authgate_verifier_requests", "Requests to routes other than /verify", labels=["route"]
        )
        for route, count in sorted(self.requests.items()):
            requests.add_metric([route], count)
        yield requests
        yield GaugeMetricFamily(
            "authgate_verifier_token_cache_entries", "Verified tokens cached", len(self._cache)
        )
        yield CounterMetricFamily(
            "authgate_verifier_connections_accepted",
            "TCP connections accepted; far fewer than requests when the proxy reuses them",
            CONNECTIONS.accepted,
        )
        yield CounterMetricFamily(
            "authgate_verifier_revocation_pipelines",
            "Pipelines of EXISTS sent to Redis",
            self._revocation.pipelines,
        )

    def render(self) -> bytes:
        return generate_latest(self._registry)
