"""The Twilio hotline webhooks (issue 6). Not built yet."""

from __future__ import annotations

from starlette.routing import BaseRoute

from pipeline.runtime import Runtime


def routes(rt: Runtime) -> list[BaseRoute]:
    """The HTTP routes of the hotline, mounted by pipeline.web.app."""
    return []
