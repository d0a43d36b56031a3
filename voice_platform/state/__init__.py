"""Reflex states: one auth base (token, user, organizations) and one substate per feature.

States hold plain data (str/bool/int, lists and dicts of those) and call the
services inside ``session_scope()``; they never query the database themselves.
"""

from voice_platform.state.auth import AuthState
from voice_platform.state.agents import AgentFormState, AgentsState
from voice_platform.state.session import SessionFormState

__all__ = ["AgentFormState", "AgentsState", "AuthState", "SessionFormState"]
