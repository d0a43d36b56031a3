"""One agent conversation, whatever carries it (a phone call in the worker, a test chat in the API).

Imports livekit: the dashboard imports this package lazily, never at start-up.
"""
