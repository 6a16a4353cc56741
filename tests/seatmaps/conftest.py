"""Fixtures for the seat-map tests; plain data helpers live in ``seatmap_helpers``."""

import pytest


@pytest.fixture
def venue(db):
    from seatmaps.models import Venue

    return Venue.objects.create(name="Stadttheater", city="Bonn")
