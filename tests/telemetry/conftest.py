"""Telemetry tests start from nothing installed, and the ones where it matters run both ways:
with the fast path (our encoder, the seam on the SDK's queue) and with the SDK's public API only."""

from __future__ import annotations

import pytest

from tests.telemetry.support import Collector, reset_telemetry


@pytest.fixture()
def fresh_telemetry():
    from voice_platform import telemetry

    reset_telemetry()
    yield telemetry
    reset_telemetry()


@pytest.fixture(params=[True, False], ids=["fast_path", "public_path"])
def fast_path(request) -> bool:
    """``TELEMETRY_FAST_PATH`` for the test: one run of the suite covers both."""
    return request.param


@pytest.fixture()
def collector():
    collector = Collector()
    yield collector
    reset_telemetry()  # flushed while the collector still listens: a closed port would cost the export's timeout
    collector.close()
