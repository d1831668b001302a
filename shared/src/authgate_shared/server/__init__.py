"""The HTTP server both services run: uvicorn's httptools protocol with header and head-time caps
(``protocol``), responses whose header block is prepared once (``response_head``) and the
limits read from the environment (``limits``)."""
