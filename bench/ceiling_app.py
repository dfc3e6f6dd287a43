"""The ceiling of the hook's stack: a FastAPI endpoint on uvicorn that only reads and parses
the body and answers 202, storing nothing. Benchmark it in warroom's place to see what the
framework alone allows on this machine (see docs/performance.md):

  taskset -c 1 .venv/bin/uvicorn --app-dir bench ceiling_app:app --port 18099 \
      --http httptools --loop uvloop --log-level warning --no-access-log &
  BENCH_SYSTEMS=warroom BENCH_WARROOM_HOOK=http://127.0.0.1:18099/hooks/alertmanager/x \
      make bench-ingest
"""

from __future__ import annotations

import json

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
