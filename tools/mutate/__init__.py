"""Mutation testing of Authgate's security-critical modules (``make mutate``), with cosmic-ray.

Not part of the product and not part of ``make test``: see docs/testing.md, "Mutation testing".
"""
