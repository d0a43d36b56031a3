"""The "Test your agent" panel on an agent's page: a text conversation with the agent as a call runs it.

Thin: every message goes through ``runtime.test_chat.send_test_message`` (the same
checks and runtime as ``POST /api/v1/agents/{id}/test-chat``); a reset ends the
conversation through the calls service.
"""

from __future__ import annotations

import json
import uuid

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.runtime import test_chat
from voice_platform.services import calls
from voice_platform.settings import get_settings
from voice_platform.state.auth import AuthState


class TestChatState(AuthState):
    # role: user | assistant | tool; tool entries carry name, arguments, output, is_error ("1"/"")
    chat_messages: list[dict[str, str]] = []
    conversation_id: str = ""
    chat_agent_id: str = ""
    sending: bool = False
    chat_error: str = ""
    key_missing: bool = False
    chat_ended: bool = False

    @rx.var
    def missing_key_text(self) -> str:
        return test_chat.NO_KEY

    @rx.event
    def prepare(self):
        """on_mount of the panel: a fresh conversation for this agent, and whether a key is set."""
        agent_id = getattr(self, "agent_id", "") or ""
        if agent_id != self.chat_agent_id:
            self.chat_messages, self.conversation_id, self.chat_error, self.chat_ended = [], "", "", False
            self.chat_agent_id = agent_id
        self.key_missing = not get_settings().google_api_key

    @rx.event
    async def send(self, form: dict):
        message = str(form.get("message") or "").strip()
        if not message or self.sending:
            return
        if self.chat_ended:
            self._forget()
        self.chat_messages = self.chat_messages + [{"role": "user", "text": message}]
        self.sending, self.chat_error = True, ""
        yield
        try:
            conversation = uuid.UUID(self.conversation_id) if self.conversation_id else None
            reply = await test_chat.send_test_message(self.token or "", uuid.UUID(self.chat_agent_id), message,
                                                      conversation)
        except test_chat.ModelMissing:
            self.key_missing = True
        except test_chat.ChatFailed as exc:
            self.chat_error = str(exc)
        except NotAuthenticated:
            self.sending = False
            yield self._signed_out()
            return
        except (DomainError, ValueError) as exc:
            self.chat_error = getattr(exc, "message", None) or "This conversation cannot continue; reset it."
        else:
            added = [{"role": "tool", "name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False),
                      "output": c.output, "is_error": "1" if c.is_error else ""} for c in reply.tool_calls]
            if reply.reply:
                added.append({"role": "assistant", "text": reply.reply})
            if not self.conversation_id:
                greeting = await self._greeting(reply.conversation_id)
                self.chat_messages = ([{"role": "assistant", "text": greeting}] if greeting else []) + self.chat_messages
            self.conversation_id = str(reply.conversation_id)
            self.chat_messages = self.chat_messages + added
            self.chat_ended = reply.ended
        finally:
            self.sending = False

    async def _greeting(self, conversation_id: uuid.UUID) -> str:
        """The conversation's first turn, when the agent greeted (it is stored before the user's)."""
        with session_scope() as session:
            first = calls.turns(session, conversation_id)[:1]
        return first[0].text if first and first[0].role == "assistant" else ""

    def _forget(self) -> None:
        self.chat_messages, self.conversation_id, self.chat_error, self.chat_ended = [], "", "", False

    @rx.event
    def reset_chat(self):
        if self.conversation_id:
            try:
                with session_scope() as session:
                    calls.end_test_session(session, self._current_user(session), uuid.UUID(self.chat_agent_id),
                                           uuid.UUID(self.conversation_id))
            except NotAuthenticated:
                return self._signed_out()
            except DomainError:
                pass  # already gone: forgetting it is all a reset has to do
        self._forget()
