"""Warms up a fork server: everything a probe uses, imported and run once on a sample app before the fork, so
that each submission process starts warm. Called once by the sandbox's fork server
(`alfred.sandbox.worker.main`), before any student code.
"""

from __future__ import annotations

from pathlib import Path

from alfred.inside.running import run_probe
from alfred.inside.wire import encode_reply
from alfred.inside.world import import_dependencies


def warm_up() -> None:
    """Imports and exercises everything a probe uses, so that processes forked afterwards start warm.

    The fork server calls this once: first-use costs (pydantic schema caches, anyio's thread pool, httpx's
    transport) are then paid before the fork instead of in every submission process.
    """
    import tempfile

    import_dependencies()
    with tempfile.TemporaryDirectory(prefix="alfred-warm-up-") as scratch:
        sample = Path(scratch) / "warm_up_app.py"
        sample.write_text(_WARM_UP_APP)
        for probe in (
            {"action": "request", "method": "POST", "path": "/ping", "json": {"email": "a@b.io", "note": "x"}},
            {"action": "request", "method": "GET", "path": "/openapi.json"},
            {"action": "validate", "model": "Ping", "data": {"email": "nope"}},
        ):
            encode_reply({"id": 0, "observation": run_probe(sample, probe, scratch)})
    _warm_up_serving()


def _warm_up_serving() -> None:
    """What serving a request with uvicorn imports on first use (its h11 protocol, its lifespan), loaded
    once here rather than by every submission process."""
    import uvicorn

    async def app(scope, receive, send):
        pass

    config = uvicorn.Config(app, lifespan="on", log_config=None, log_level="critical", access_log=False,
                            proxy_headers=False, ws="none", http="h11")
    config.load()
    config.lifespan_class(config)


_WARM_UP_APP = """
import asyncio, time
from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel, EmailStr

app = FastAPI()

class Ping(BaseModel):
    email: EmailStr
    note: str

def pause(ping: Ping):
    print(ping.email)
    time.sleep(1)

async def wait(ping: Ping):
    await asyncio.sleep(1)

@app.post("/ping", status_code=202)
async def ping(body: Ping, background_tasks: BackgroundTasks):
    background_tasks.add_task(pause, body)
    background_tasks.add_task(wait, ping=body)
    return {"ok": True}
"""
