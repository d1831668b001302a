"""``make bench``: performance benchmarks driven by wrk, reported as ratios to a bare ASGI app.

Sections live in their own modules (``verifier.py``; an issuer section can be added beside it)
and share ``common.py``: a private Redis, service processes, the wrk driver and the table.
"""
