"""QA: sign-in's ?next= must stay on this site even in the spellings browsers normalise."""

from __future__ import annotations

import pytest

from voice_platform.state.auth import HOME_ROUTE
from voice_platform.state.session import _safe_next


@pytest.mark.parametrize("raw", ["/%5Cevil.example/phish", "/\\evil.example", "/%09/evil.example", "/\n/evil.example", "//evil.example"])
def test_off_site_spellings_fall_back_home(raw):
    assert _safe_next(raw) == HOME_ROUTE


def test_same_site_path_is_kept():
    assert _safe_next("/agents/new") == "/agents/new"
