"""The LiveKit worker: joins a call's room and runs the agent (entrypoint arrives with the call path)."""
