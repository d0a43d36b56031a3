"""The LiveKit worker process: a job per call, identified, answered by the runtime's agent (see entrypoint.py)."""
