"""``make bench``'s gateway section runs end to end through real Traefik (one short round per
case): every case answers 200 through the shipped ForwardAuth config, and the table shows the
ratios, each process's CPU share and the verifier's new-connection share. Speed itself is
measured by the bench, never asserted here."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import gateway


def test_the_gateway_section_runs_through_real_traefik(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway, "ROUNDS_PER_SECOND", 1)
    results = gateway.run(tmp_path, 1)
    assert [r.name for r in results] == [
        "Traefik, no auth",
        "ForwardAuth, Redis check each",
        "ForwardAuth, cache 50 ms",
    ]
    assert all(r.rps > 0 and r.errors == 0 and r.non2xx == 0 for r in results), results
    table = capsys.readouterr().out
    for process in ("traefik", "verifier", "upstream", "redis", "wrk"):
        assert process in table
    rows = [line for line in table.splitlines() if line.startswith("ForwardAuth")]
    assert all("%" in row for row in rows), table  # the new-connection share of auth calls
