"""The one place configuration is read from.

Every component (dashboard, API, worker, CLI) asks ``get_settings()``; nothing
else in the codebase reads ``os.environ``. Values come from the environment or
a ``.env`` file, so the embedded default (a SQLite file, no external services)
runs with no configuration at all, and production refuses insecure defaults.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "change-me-development-only-secret-key"


class Settings(BaseSettings):
    # env_ignore_empty: a blank line in .env (e.g. "GOOGLE_CLIENT_ID=") means "use the default".
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False, env_ignore_empty=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///data/voice_platform.db"
    db_echo: bool = False
    # PostgreSQL connections each process keeps open (pool) and may open on top under load
    # (overflow). Every web worker and every worker job process has its own pool, so their sum
    # must stay under PostgreSQL's max_connections (README, "Deploy and scale").
    db_pool_size: int = Field(default=10, ge=1, le=1000)
    db_max_overflow: int = Field(default=20, ge=0, le=1000)

    secret_key: str = DEFAULT_SECRET_KEY
    encryption_keys: str = Field(
        default="",
        description="Comma-separated Fernet keys, newest first; empty derives one from SECRET_KEY (dev only)",
    )
    access_token_expire_minutes: int = 60 * 12
    signin_max_failures: int = 5
    signin_lockout_seconds: int = 300
    oauth_state_ttl_seconds: int = 600

    public_base_url: str = "http://localhost:3000"
    # Where Twilio and Google reach the backend. Empty: the same as PUBLIC_BASE_URL, which is
    # right for `reflex run --env prod` (frontend, websocket and /api/v1 on one port).
    api_base_url: str | None = None
    frontend_port: int = 3000
    # Only for `reflex run` in dev mode (separate ports); prod mode serves everything on FRONTEND_PORT.
    backend_port: int | None = None
    redis_url: str | None = None

    # The plan a new organization starts on (free | starter | pro; see services/billing.py).
    default_plan: str = "free"

    # How long an invitation link to an organization stays valid.
    invitation_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)

    # Outgoing e-mail (password resets, invitations). No SMTP_HOST: nothing is sent; the admin
    # copies invitation links by hand and password reset by e-mail is unavailable.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    # starttls: plain connection upgraded with STARTTLS (port 587); ssl: TLS from the start (465);
    # none: no encryption (a relay on localhost or a test server only).
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # How long a password-reset link stays valid; it works once.
    password_reset_ttl_minutes: int = Field(default=60, ge=1, le=24 * 60)

    bootstrap_admin_email: str = "admin@example.com"
    bootstrap_admin_password: str | None = None
    bootstrap_org_name: str = "Demo Organization"

    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    # Recordings are fetched (with the account's credentials) only from under this URL.
    twilio_recordings_base_url: str = "https://api.twilio.com/"
    # Where every Twilio REST request goes (numbers, calls): a Twilio-compatible provider or a
    # test double; the path (/2010-04-01/Accounts/...) is Twilio's.
    twilio_api_base_url: str = "https://api.twilio.com"

    livekit_url: str | None = None
    livekit_api_key: str | None = None
    livekit_api_secret: str | None = None
    livekit_sip_domain: str | None = None
    livekit_agent_name: str = "voice-platform-agent"
    # Digest credentials Twilio's <Sip> presents to LiveKit's inbound trunk (the same pair is set
    # on the trunk by `make livekit-setup`), so nobody else can INVITE with a forged session header.
    livekit_sip_username: str | None = None
    livekit_sip_password: str | None = None
    # Rooms the dispatch rule creates for inbound calls are named <prefix><random>.
    livekit_room_prefix: str = "call-"

    # Networks a customer-typed URL (custom tools, webhooks) may reach although they are private,
    # loopback or link-local: comma-separated CIDRs, e.g. "10.20.0.0/16". Empty: none (the SSRF
    # guard in services/outbound.py refuses every such address).
    outbound_allowed_networks: str = ""

    google_api_key: str | None = None
    # A tool call still running after this many seconds is cut off with an error to the model.
    tool_timeout_seconds: float = 10.0
    gemini_model: str = "gemini-2.5-flash-native-audio-preview-09-2025"
    # Post-call analysis (summary, extracted fields, success, sentiment): a Gemini text model,
    # reached with GOOGLE_API_KEY (and google-genai's own GOOGLE_GEMINI_BASE_URL when set).
    gemini_analysis_model: str = "gemini-2.5-flash"
    # google-genai's own variable, read here too so the analysis client is made for it (tests and
    # proxies point Gemini elsewhere with it); empty: Google's endpoint.
    google_gemini_base_url: str | None = None
    analysis_timeout_seconds: float = Field(default=30.0, gt=0, le=300)

    # Webhooks to the customer: seconds to wait before each retry of a failed delivery; after the
    # last one the delivery is failed. Each attempt waits WEBHOOK_TIMEOUT_SECONDS for an answer.
    webhook_retry_schedule: str = "5,30,120,600,3600"
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Days an event (with its deliveries, once none is pending) stays in the deliveries lists before
    # the webhook loop deletes it; 0 keeps every event forever.
    webhook_retention_days: int = Field(default=30, ge=0, le=3650)
    # Whether this web process runs the background loops (webhook deliveries, call analyses and
    # summary e-mails, campaigns, lost-mail recovery). false: they run in a process of their own,
    # `python -m voice_platform.cli background` (`make background`), which must then be running
    # somewhere; the web processes answering Twilio then spend their CPU on requests alone.
    background_work: bool = True
    # How much `python -m voice_platform.cli background` lowers its own CPU priority (nice, 0-19):
    # on a machine it shares with web processes, Twilio's webhooks are served first and the
    # background work takes the CPU they leave. 0: the same priority.
    background_nice: int = Field(default=10, ge=0, le=19)
    google_client_id: str | None = None
    google_client_secret: str | None = None
    google_auth_uri: str = "https://accounts.google.com/o/oauth2/auth"
    google_token_uri: str = "https://oauth2.googleapis.com/token"
    google_revoke_uri: str = "https://oauth2.googleapis.com/revoke"
    # Google's ID-token signing certificates ({kid: PEM}); "Sign in with Google" verifies against them.
    google_certs_uri: str = "https://www.googleapis.com/oauth2/v1/certs"
    google_calendar_api_endpoint: str | None = None

    # OpenTelemetry, by the specification's own variable names (voice_platform/telemetry/).
    # Nothing is exported unless an endpoint or an exporter is named.
    otel_sdk_disabled: bool = False
    otel_service_name: str | None = None  # default voice-platform-web / voice-platform-worker
    otel_exporter_otlp_endpoint: str | None = None  # e.g. http://otel-collector:4318
    otel_exporter_otlp_protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    otel_exporter_otlp_headers: str | None = None  # key=value,key2=value2 (e.g. api-key=...)
    otel_exporter_otlp_timeout: int = Field(default=5000, ge=100, le=60000)  # milliseconds
    otel_traces_exporter: str | None = None  # otlp | console | none
    otel_metrics_exporter: str | None = None
    otel_logs_exporter: str | None = None
    otel_metric_export_interval: int = Field(default=60000, ge=1000)  # milliseconds
    # Webhook traces written by our own OTLP/HTTP encoder, queued through the one seam on the SDK's
    # private internals (voice_platform/telemetry/fast_path.py); false: the SDK's public API only.
    telemetry_fast_path: bool = True

    @field_validator("outbound_allowed_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        """A typo in an SSRF allow-list should stop the process at start, not surface at a call."""
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the bad entry
        return value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule_parse(cls, value: str) -> str:
        delays = [part.strip() for part in value.split(",") if part.strip()]
        if not delays or any(not d.replace(".", "", 1).isdigit() for d in delays):
            raise ValueError("WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds, e.g. 5,30,120,600,3600")
        return value

    @property
    def webhook_retry_delays(self) -> list[float]:
        """Seconds before the 2nd, 3rd, ... attempt; its length is how many retries follow the first."""
        return [float(part) for part in self.webhook_retry_schedule.split(",") if part.strip()]

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> "Settings":
        if self.environment == "production":
            if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32:
                raise ValueError("SECRET_KEY must be set to a random value of 32+ characters in production")
            if not self.encryption_keys.strip():
                raise ValueError("ENCRYPTION_KEYS must be set in production (Fernet keys, newest first)")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """psycopg 3 is our PostgreSQL driver; accept the plain postgres URLs people paste."""
        url = self.database_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    @property
    def fernet_keys(self) -> list[bytes]:
        keys = [k.strip().encode() for k in self.encryption_keys.split(",") if k.strip()]
        if keys:
            return keys
        derived = hashlib.sha256(("fernet:" + self.secret_key).encode()).digest()
        return [base64.urlsafe_b64encode(derived)]

    @property
    def google_oauth_configured(self) -> bool:
        return bool(self.google_client_id and self.google_client_secret)

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host and self.smtp_from)

    @property
    def oauth_redirect_uri(self) -> str:
        return self.api_url + "/api/v1/tools/callback"

    @property
    def google_signin_redirect_uri(self) -> str:
        """The redirect URI of "Sign in with Google" (and linking), registered on the same OAuth client."""
        return self.api_url + "/api/v1/auth/oauth/google/callback"

    @property
    def api_url(self) -> str:
        return (self.api_base_url or self.public_base_url).rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests and the CLI change the environment, then ask for fresh settings."""
    get_settings.cache_clear()
