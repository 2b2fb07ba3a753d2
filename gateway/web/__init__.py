"""FastAPI app factory, partner API (/bx/v1), local API (/api), console (templates, static)."""
