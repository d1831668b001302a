"""Authgate's ForwardAuth verifier: a raw ASGI app deciding, before every MCP request, whether the bearer token is valid, unrevoked and meant for the forwarded resource."""
