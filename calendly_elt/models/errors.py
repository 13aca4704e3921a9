"""Errors of the SQL model runner and the report (all ``CalendlyEltError``)."""

from __future__ import annotations

from calendly_elt.errors import CalendlyEltError


class ModelDefinitionError(CalendlyEltError):
    """The SQL models under ``sql/`` are inconsistent (unknown ref, cycle, layer rule)."""


class RawDataMissingError(CalendlyEltError):
    """A raw table the models read has not been loaded yet."""


class ModelBuildError(CalendlyEltError):
    """A model failed to build; the previous marts are left as they were."""


class MartsMissingError(CalendlyEltError):
    """The marts have not been built yet (report or SQL tests asked for them)."""


class WarehouseUnavailableError(CalendlyEltError):
    """The destination cannot be reached (missing credentials, server down, bad DSN)."""
