"""The HTTP API (FastAPI) for unit heads, Nội vụ and operators."""
