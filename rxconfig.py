"""Reflex configuration: every value comes from ``voice_platform.settings``.

Reflex 0.10 quirks this file works around:

* ``reflex run --env prod`` serves the compiled frontend *and* the backend on ONE
  port and refuses to start when ``frontend_port`` and ``backend_port`` differ.
  So ``backend_port`` is passed only when BACKEND_PORT is set (then it
  is meant for ``reflex run`` in dev mode, where the two ports differ); otherwise
  Reflex uses its default 8000 in dev and the frontend port in prod.
* ``api_url`` is left to Reflex: it derives it from the port it actually serves on.
* ``rx.App(theme=...)`` is deprecated since 0.9: the theme lives in the Radix
  Themes plugin here.
* The sitemap plugin is on by default and only warns about missing ``deploy_url``
  details; this dashboard sits behind sign-in, so a sitemap is pointless.
"""

import reflex as rx
from reflex_base.plugins.sitemap import SitemapPlugin

from voice_platform.settings import get_settings

settings = get_settings()

_ports = {"frontend_port": settings.frontend_port}
if settings.backend_port is not None:
    _ports["backend_port"] = settings.backend_port

config = rx.Config(
    app_name="voice_platform",
    db_url=settings.sqlalchemy_url,  # psycopg 3 driver spelled out, as db.py does
    redis_url=settings.redis_url,
    deploy_url=settings.public_base_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    disable_plugins=[SitemapPlugin],
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="light", accent_color="violet", gray_color="slate", radius="large"),
        ),
    ],
    **_ports,
)
