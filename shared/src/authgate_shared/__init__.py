"""The contract between Authgate's issuer and verifier.

Nothing here talks HTTP; everything here is used by both services, so a change to a
module in this package is a change to the wire or storage format between them.
"""

__version__ = "0.2.0"
