"""HTTP plumbing of the issuer: middleware, request ids, routing, responses, HTML pages, the
OpenAPI description, the fast public documents, client addresses, rate limits, metrics, logs.

Nothing here decides an OAuth question; ``oauth`` does, and ``endpoints`` joins the two."""
