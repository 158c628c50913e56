"""Fixtures shared by the worker tests: a fake clock and the scripted API on top of ``responses``."""

from __future__ import annotations

import pytest
import responses

from tests.unit.fake_api import Clock, FakeApi


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def api(clock):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeApi(mock, clock)
