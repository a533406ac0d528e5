"""The HTTP side of `intake serve`: health now, the hotline webhooks and pages as they come.

Routes are collected from the edges that have them (`extra_routes`), so this module stays the one
place that builds the Starlette application.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from pipeline.runtime import Runtime


def build_app(rt: Runtime, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        try:
            with rt.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # health reports, never raises
            return JSONResponse({"status": "unhealthy", "database": str(exc)[:200]}, status_code=503)
        return JSONResponse({"status": "ok", "database": rt.engine.dialect.name})

    app = Starlette(routes=[Route("/healthz", healthz), *extra_routes])
    app.state.runtime = rt
    return app
