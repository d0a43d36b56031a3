"""Which exporter each signal gets, from the settings, and the official OTLP exporters built so
that they read their own standard ``OTEL_EXPORTER_OTLP_*`` variables.

The official exporters read the process environment themselves, with the specification's
precedence: per-signal variables (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``..._HEADERS``,
``..._COMPRESSION``, ``..._CERTIFICATE``, client keys ...) over the generic ones. Passing them a
constructor argument would outrank all of that, so we pass only what they cannot read
themselves (``official``):

- the endpoint and the headers when Settings holds a value the process environment does not
  say (one from the ``.env`` file, or given in code): a ``.env`` file is ours, the exporters
  never see it. Such a value then also outranks the per-signal variables; only the variables
  Settings models are read from ``.env``, every other one must be in the process environment;
- the timeout, always, from ``OTEL_EXPORTER_OTLP_TIMEOUT`` in milliseconds (the specification's
  unit and ours): the Python exporters read that variable as seconds.

Whether the process environment says a value is asked of the Settings class's own environment
source (pydantic-settings), so the environment is still read in one way only.
"""

from __future__ import annotations

from typing import Literal

from opentelemetry.util.re import parse_env_headers

from voice_platform.settings import Settings

Signal = Literal["traces", "metrics", "logs"]
SIGNALS: tuple[Signal, ...] = ("traces", "metrics", "logs")
DEFAULT_HTTP_ENDPOINT = "http://localhost:4318"


def kind(signal: Signal, settings: Settings) -> str:
    """``otlp`` | ``console`` | ``none`` for ``signal``, from the settings."""
    named = {"traces": settings.otel_traces_exporter, "metrics": settings.otel_metrics_exporter,
             "logs": settings.otel_logs_exporter}[signal]
    if named:
        return named.split(",")[0].strip().lower()
    return "otlp" if settings.otel_exporter_otlp_endpoint else "none"


def enabled(settings: Settings) -> bool:
    if settings.otel_sdk_disabled:
        return False
    return any(kind(signal, settings) != "none" for signal in SIGNALS)


def headers(settings: Settings) -> dict[str, str]:
    return parse_env_headers(settings.otel_exporter_otlp_headers or "", liberal=True)


def protocol(settings: Settings) -> str:
    value = (settings.otel_exporter_otlp_protocol or "http/protobuf").lower()
    if value not in ("http/protobuf", "grpc"):
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={value!r} is not supported: use http/protobuf or grpc")
    return value


def _not_in_process_env(settings: Settings) -> set[str]:
    """The endpoint/headers fields whose value the exporters cannot read from the process environment."""
    from pydantic_settings import EnvSettingsSource

    from_env = EnvSettingsSource(type(settings))()
    return {name for name in ("otel_exporter_otlp_endpoint", "otel_exporter_otlp_headers")
            if getattr(settings, name) and from_env.get(name) != getattr(settings, name)}


def official(signal: Signal, settings: Settings):
    """OpenTelemetry's OTLP exporter for ``signal`` over the configured protocol."""
    grpc = protocol(settings) == "grpc"
    kwargs: dict = {"timeout": settings.otel_exporter_otlp_timeout / 1000}
    given = _not_in_process_env(settings)
    if "otel_exporter_otlp_headers" in given:
        kwargs["headers"] = headers(settings)
    if "otel_exporter_otlp_endpoint" in given:
        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/")
        # The specification: over HTTP the generic endpoint is a base, each signal posts to <base>/v1/<signal>.
        kwargs["endpoint"] = endpoint if grpc else f"{endpoint}/v1/{signal}"
    if grpc:
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Exporter
        elif signal == "metrics":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as Exporter
        else:
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as Exporter
    elif signal == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Exporter
    elif signal == "metrics":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as Exporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as Exporter
    return Exporter(**kwargs)


def ours(settings: Settings):
    """Our OTLP/HTTP span exporter (the fast path's), from what Settings holds."""
    from voice_platform.telemetry.otlp_encoder import SpanExporter

    endpoint = (settings.otel_exporter_otlp_endpoint or DEFAULT_HTTP_ENDPOINT).rstrip("/")
    return SpanExporter(f"{endpoint}/v1/traces", headers=headers(settings),
                        timeout=settings.otel_exporter_otlp_timeout / 1000)


def wants_fast_path(settings: Settings) -> bool:
    """Traces go over OTLP/HTTP and ``TELEMETRY_FAST_PATH`` is on: our exporter and encoder may serve them."""
    return settings.telemetry_fast_path and kind("traces", settings) == "otlp" and protocol(settings) == "http/protobuf"
