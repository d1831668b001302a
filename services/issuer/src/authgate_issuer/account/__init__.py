"""The "Connected apps" page (``/account``): a signed-in GitHub user sees the grants Authgate
holds for them and the consents this browser remembers, and revokes or forgets them."""
