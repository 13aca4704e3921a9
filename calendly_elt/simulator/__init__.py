"""A faithful, deterministic stand-in for api.calendly.com.

``generate_organization`` builds a seeded organization (a ``Store``);
``Simulator`` serves it over an in-process httpx transport or a real HTTP
server, with Calendly's paging, auth, rate limits and optional faults.
"""

from __future__ import annotations

from typing import Any

from calendly_elt.simulator.faults import FaultConfig
from calendly_elt.simulator.server import SimConfig, SimStats, Simulator
from calendly_elt.simulator.store import SimClock, SimulatorError, Store
from calendly_elt.simulator.wire import SimRequest, SimResponse

__all__ = [
    "FaultConfig",
    "SimClock",
    "SimConfig",
    "SimRequest",
    "SimResponse",
    "SimStats",
    "Simulator",
    "SimulatorError",
    "Store",
    "generate_organization",
]


def __getattr__(name: str) -> Any:
    """Import the generator lazily (it is heavier and may be absent in a partial checkout)."""
    if name == "generate_organization":
        from calendly_elt.simulator.generator import generate_organization

        return generate_organization
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
