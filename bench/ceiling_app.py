"""The ceiling of the hook's stack: endpoints on uvicorn that only read and parse the body
and answer 202, storing nothing. Benchmark one in warroom's place to see what the framework
alone allows on this machine (see docs/performance.md):

  taskset -c 1 .venv/bin/uvicorn --app-dir bench ceiling_app:app --port 18099 \
      --http httptools --loop uvloop --log-level warning --no-access-log &
  BENCH_SYSTEMS=warroom BENCH_WARROOM_HOOK=http://127.0.0.1:18099/hooks/alertmanager/x \
      BENCH_WARROOM_PID=$! BENCH_PROBES=0 make bench-ingest

``ceiling_app:app`` is a FastAPI route; ``ceiling_app:raw`` is a plain ASGI callable, as
lean as an ASGI app on uvicorn gets. ``bench/ceiling_protocol.py`` goes below ASGI.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/hooks/alertmanager/{key}")
async def hook(key: str, request: Request) -> JSONResponse:
    data = json.loads(await request.body())
    return JSONResponse({"status": "accepted", "alerts": len(data["alerts"])}, status_code=202)


@app.get("/healthz")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


async def raw(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The same two endpoints as plain ASGI."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    status, content = 200, b'{"ok":true}'
    if scope["method"] == "POST":
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer = {"status": "accepted", "alerts": len(json.loads(body)["alerts"])}
        status, content = 202, json.dumps(answer).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
