"""Domain errors raised by services; the API and the UI translate them.

Services never know about HTTP; these carry just enough for the API to pick a
status code and for the dashboard to show the message next to a field.
"""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAuthenticated(DomainError):
    status_code = 401


class PermissionDenied(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class ValidationFailed(DomainError):
    """Input the user can fix; ``field`` names the offending field when there is one."""

    status_code = 422


class QuotaExceeded(DomainError):
    status_code = 402


class TooManyAttempts(DomainError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# A one-time proof the request carries (an OAuth state, a sign-in handoff code, a reset link)
# that does not verify: unknown, expired, spent, or another user's. The request is well formed
# and no schema can tell such a value from a good one, so it is refused as not authorizing
# anything (403), like a bad credential, never as malformed input.
SPENT_OR_FORGED_PROOF = 403


class InvalidOAuthState(DomainError):
    status_code = SPENT_OR_FORGED_PROOF


class IntegrationNotConfigured(DomainError):
    status_code = 503


class MailNotSent(DomainError):
    """The SMTP server refused or could not be reached; the message says why, never a credential."""

    status_code = 503
