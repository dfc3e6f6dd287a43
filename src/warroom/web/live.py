"""Server-Sent Events: tell an open page that what it shows has changed.

The stream reads a change counter (the incident's timeline length, or the newest timeline
entry of all) about once a second, so a change made by any process — another server, the
CLI, a worker — reaches the page; the page then fetches itself and swaps the live parts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from warroom.incidents import queries, service
from warroom.runtime import Runtime
from warroom.web.deps import IdPath, RuntimeDep
from warroom.web.pages.common import User

router = APIRouter(include_in_schema=False)
POLL_SECONDS = 1.0
HEARTBEAT_POLLS = 15  # a comment line every ~15 s keeps proxies from closing the stream
MAX_POLLS = 600  # ~10 min, then the stream ends and the browser reconnects (and signs in
# again through the session cookie: a signed-out or disabled user's stream ends with it)
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


async def _changes(
    request: Request, runtime: Runtime, incident_id: int | None
) -> AsyncIterator[str]:
    def read() -> int:
        with runtime.read() as session:
            return queries.last_change(session=session, incident_id=incident_id)

    seen = await run_in_threadpool(read)
    yield f"retry: 2000\nevent: hello\ndata: {seen}\n\n"
    quiet = 0
    for _ in range(MAX_POLLS):
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_SECONDS)
        current = await run_in_threadpool(read)
        if current != seen:
            seen, quiet = current, 0
            yield f"event: change\ndata: {current}\n\n"
        else:
            quiet += 1
            if quiet >= HEARTBEAT_POLLS:
                quiet = 0
                yield ": still here\n\n"


@router.get("/live")
def dashboard_changes(request: Request, user: User, runtime: RuntimeDep) -> StreamingResponse:
    return StreamingResponse(
        _changes(request, runtime, None), media_type="text/event-stream", headers=HEADERS
    )


@router.get("/live/incidents/{incident_id}")
def incident_changes(
    request: Request, incident_id: IdPath, user: User, runtime: RuntimeDep
) -> StreamingResponse:
    with runtime.read() as session:
        service.get(session=session, incident_id=incident_id)  # a 404 for an unknown one
    return StreamingResponse(
        _changes(request, runtime, incident_id), media_type="text/event-stream", headers=HEADERS
    )
