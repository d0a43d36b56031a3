"""The Reflex app: dashboard pages mounted inside the REST API's FastAPI app.

Reflex 0.10 quirks:
* Reflex no longer ships FastAPI; ``api_transformer=<FastAPI app>`` makes our API
  the outer ASGI app, Reflex's own routes (websocket, /ping, uploads) and, in
  ``--env prod``, the compiled frontend are served next to ``/api/v1``.
* The mounted FastAPI app's own lifespan does not run, so start-up work is a
  Reflex lifespan task (``on_startup`` is idempotent).
"""

from __future__ import annotations

import reflex as rx

from voice_platform.api import create_app
from voice_platform.pages import register_pages
from voice_platform.startup import on_startup

app = rx.App(
    api_transformer=create_app(),
    stylesheets=["/styles.css"],
    # The theme is configured on the RadixThemesPlugin in rxconfig.py (App(theme=) is deprecated).
    head_components=[rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml")],
)


def _startup() -> None:
    on_startup()


app.register_lifespan_task(_startup)
register_pages(app)
