"""The baseline of bench/ingest.py: a FastAPI endpoint that only reads the body and answers 202."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()


@app.post("/bx/v1/messages")
async def accept(request: Request) -> Response:
    await request.body()
    return Response(b"{}", status_code=202, media_type="application/jose+json")


@app.get("/bx/v1/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/messages")
async def queue(request: Request) -> Response:
    await request.body()
    return Response(b'{"id":"00000000-0000-4000-8000-000000000000"}', status_code=202,
                    media_type="application/json")
