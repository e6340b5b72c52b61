"""The console's unit tests read its English messages (the msgids); Chinese is checked by
``test_catalog`` and the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.web.console import i18n


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    token = i18n.use("en")
    yield
    i18n._current.reset(token)
