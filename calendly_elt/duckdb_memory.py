"""DuckDB's memory: capped by default, lifted for a model build that needs more.

DuckDB's own default limit is 80% of the machine's memory, and it keeps the
file's blocks cached up to it: a large organization's run peaked at twice a
medium one's. Our connections get ``DEFAULT_MEMORY_LIMIT`` unless the user
configures ``[destination.duckdb.credentials.global_config]`` (theirs replaces
ours whole). Beyond the limit DuckDB evicts and spills to ``<file>.tmp/``;
an operator that cannot spill fails with "Out of Memory Error". A model build
that fails so under our default is rebuilt once with DuckDB's own limit
(``lift_default_limit``); under a configured limit the error says which key
to raise.
"""

from __future__ import annotations

import logging
from typing import Any

import dlt

from calendly_elt.errors import exception_chain

logger = logging.getLogger(__name__)

GLOBAL_CONFIG_KEY = "destination.duckdb.credentials.global_config"
DEFAULT_MEMORY_LIMIT = "256MB"
OUT_OF_MEMORY = "Out of Memory Error"
RAISE_THE_LIMIT = f"DuckDB ran out of memory: raise memory_limit in [{GLOBAL_CONFIG_KEY}]"


def limit_is_configured() -> bool:
    """Whether the user configured DuckDB's settings (TOML or environment)."""
    return dlt.config.get(GLOBAL_CONFIG_KEY) is not None


def duckdb_global_config() -> dict[str, Any] | None:
    """The settings our DuckDB connections get: our limit, or None to let dlt resolve theirs."""
    return None if limit_is_configured() else {"memory_limit": DEFAULT_MEMORY_LIMIT}


def is_out_of_memory(error: BaseException) -> bool:
    """Whether DuckDB's memory limit is what failed, anywhere in the chain."""
    return any(OUT_OF_MEMORY in str(link) for link in exception_chain(error))


def lift_default_limit(client: Any) -> bool:
    """Give DuckDB its own default limit back, if ours is the one in effect.

    Args:
        client: An open dlt SQL client on the DuckDB destination.

    Returns:
        True if the limit was lifted (ours was in effect); False if the user's is.
    """
    if limit_is_configured():
        return False
    client.execute_sql("reset memory_limit")
    logger.warning(
        "the model build needed more than DuckDB's %s limit; rebuilding with DuckDB's "
        "default (80%% of memory) for this connection: set memory_limit in [%s] to choose",
        DEFAULT_MEMORY_LIMIT,
        GLOBAL_CONFIG_KEY,
    )
    return True
