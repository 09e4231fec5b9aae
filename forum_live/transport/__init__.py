"""The edges: HTTP API and pages, the socket loop, signed tokens."""
