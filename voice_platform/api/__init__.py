"""The REST API as one FastAPI app.

Reflex mounts its own routes into this app through ``api_transformer``; the
same object also runs alone (``uvicorn voice_platform.api:app``) for tests,
benchmarks and API-only deployments.
"""

from voice_platform.api.app import create_app

app = create_app()

__all__ = ["app", "create_app"]
