"""Decision counters, exposed on ``GET /metrics`` in the Prometheus text format.

Successful requests are counted, never logged (one log line per request would cost more than
the verification). Plain dict increments keep the hot path free of prometheus_client's locks;
a collector turns them into metric families on scrape. Counts are per worker process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .revocation import RevocationChecker
from .token_cache import TokenCache


class Metrics(Collector):
    def __init__(self, cache: TokenCache, revocation: RevocationChecker) -> None:
        self.decisions: Counter[str] = Counter()
        self._cache = cache
        self._revocation = revocation
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)

    def collect(self) -> Iterator[Metric]:
        decisions = CounterMetricFamily(
            "authgate_verifier_decisions", "ForwardAuth decisions by outcome", labels=["outcome"]
        )
        for outcome, count in sorted(self.decisions.items()):
            decisions.add_metric([outcome], count)
        yield decisions
        yield GaugeMetricFamily(
            "authgate_verifier_token_cache_entries", "Verified tokens cached", len(self._cache)
        )
        yield CounterMetricFamily(
            "authgate_verifier_revocation_pipelines",
            "Pipelines of EXISTS sent to Redis",
            self._revocation.pipelines,
        )

    def render(self) -> bytes:
        return generate_latest(self._registry)
