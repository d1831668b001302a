from __future__ import annotations

from authgate_verifier.metrics import LatencyHistogram


def test_histogram_buckets_are_cumulative_with_sum() -> None:
    histogram = LatencyHistogram((0.001, 0.01))
    for seconds in (0.0005, 0.001, 0.005, 0.5):
        histogram.observe(seconds)
    family = histogram.family("x", "doc")
    samples = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert samples[("x_bucket", "0.001")] == 2  # le is inclusive, as Prometheus defines it
    assert samples[("x_bucket", "0.01")] == 3
    assert samples[("x_bucket", "+Inf")] == 4
    assert samples[("x_count", None)] == 4
    assert abs(samples[("x_sum", None)] - 0.5065) < 1e-9
