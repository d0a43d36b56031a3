"""Tools the voice agents can call.

Deliberately empty of imports: ``base``/``registry`` import livekit and are loaded only by
the worker, the registry sync and the API. Tools sit above the services (a tool records
what it did through them); the Google API client they share with the OAuth services is
an adapter below both (``voice_platform.google_client``).
"""
