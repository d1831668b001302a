"""An ``IssuerContext`` outside the app, for tests that call issuer code directly.

It is the app's own constructor (``authgate_issuer.context.open_context``): the same key ring from
the same ``KEYS_DIR`` and the same Redis client, so tokens minted here verify against an app
started from the same settings, and vice versa.

    async with issuer_context(settings) as ctx:
        tokens = await start_grant(ctx, client_id=..., username=..., ...)
"""

from __future__ import annotations

from authgate_issuer.context import open_context as issuer_context

__all__ = ["issuer_context"]
