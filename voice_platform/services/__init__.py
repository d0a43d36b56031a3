"""Business rules: the one place they live. UI state, API routers and the worker call these; nothing here imports reflex, fastapi or livekit."""
