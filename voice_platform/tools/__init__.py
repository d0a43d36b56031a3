"""Tools the voice agents can call.

Deliberately empty of imports: ``voice_platform.tools.google_client`` is used by the
OAuth service, which must not pull in livekit; ``base``/``registry`` import livekit
and are loaded only by the worker, the registry sync and the API.
"""
