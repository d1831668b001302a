"""``make chaos`` (``python -m chaos``): a mixed load on the real processes while Redis and the
verifier are killed and restarted; prints what it saw. Not part of ``make test``.

Modules: ``load`` (the workers and what they expect), ``ledger`` (tokens' states, outcomes,
answers to judge), ``faults`` (the crashes, their recovery, the key counts around a Redis
crash), ``gate`` (pausing the load for consistent snapshots), ``report`` (final data check).
"""
