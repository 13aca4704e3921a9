"""Load packages a killed run left half-committed, made loadable again.

dlt's normalize step commits a package in two moves: it renames the normalized
package into ``load/normalized/<load_id>``, then deletes the extracted
package it came from (``normalize/extracted/<load_id>``); its log says "do
not kill this process" in between. A SIGKILL (a container stopped, an OOM
kill, a scheduler timeout) between the two leaves the same ``load_id`` in
both places. The next normalize re-spools the extracted copy and fails to
rename it onto the existing normalized one (``OSError: Directory not
empty``), and so does every later run: the pipeline is wedged.

The rename is atomic, so a normalized (or already loaded) package is whole,
and the extracted copy of the same ``load_id`` is only the cleanup that was
cut short: deleting it finishes the commit.
"""

from __future__ import annotations

import logging

import dlt

logger = logging.getLogger(__name__)


def finish_interrupted_commits(pipeline: dlt.Pipeline) -> list[str]:
    """Delete extracted packages whose normalized or loaded copy already exists.

    Returns:
        The load ids whose extracted copy was deleted.
    """
    normalize_storage = pipeline._get_normalize_storage()
    if not normalize_storage.is_storage_ready():
        return []
    extracted = set(normalize_storage.extracted_packages.list_packages())
    if not extracted:
        return []
    committed = extracted & _committed_load_ids(pipeline)
    for load_id in sorted(committed):
        logger.warning(
            "load package %s was normalized by a run killed before it cleaned up;"
            " finishing its commit",
            load_id,
        )
        normalize_storage.extracted_packages.delete_package(load_id)
    return sorted(committed)


def _committed_load_ids(pipeline: dlt.Pipeline) -> set[str]:
    load_storage = pipeline._get_load_storage()
    if not load_storage.is_storage_ready():
        return set()
    return {*load_storage.list_normalized_packages(), *load_storage.list_loaded_packages()}
