"""Upstream login providers: who the user is, asked of an identity provider (today GitHub)."""
