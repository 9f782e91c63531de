"""HTTP API: protocol (pydantic bodies), routes, app factory."""
