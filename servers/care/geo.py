"""Distances on the Earth's surface, for "nearest outlet first"."""

from __future__ import annotations

import math

# The mean Earth radius (IUGG), in metres: the haversine formula treats the Earth as a
# sphere, which is within 0.5 % of the ellipsoid, plenty for ordering outlets.
EARTH_RADIUS_METERS = 6_371_008.8


def haversine_meters(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in metres between two WGS 84 points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_METERS * math.asin(min(1.0, math.sqrt(a)))
