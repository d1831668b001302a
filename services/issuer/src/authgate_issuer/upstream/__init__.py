"""The upstream token vault: the user's GitHub token kept sealed in the grant, refreshed
server-side, handed out only by token exchange (RFC 8693) to the MCP servers of the grant."""
