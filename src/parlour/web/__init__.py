"""parlour.web: the ASGI application (Starlette): shell, SSE, event, back, static; sessions.

from parlour.web import App
"""

from parlour.web.app import App as App

__all__ = ["App"]
