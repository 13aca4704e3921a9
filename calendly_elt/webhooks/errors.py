"""The webhook errors, members of the ``CalendlyEltError`` family."""

from __future__ import annotations

from calendly_elt.errors import CalendlyEltError, ConfigError


class WebhookError(CalendlyEltError):
    """A webhook subscription, key store or landing store failure."""


class SigningKeyStoreError(ConfigError):
    """The signing-key store cannot be read or written."""


class LandingError(WebhookError):
    """A delivery could not be appended durably to the landing store."""


class RejectedDelivery(WebhookError):  # noqa: N818 - a verdict, not a crash
    """A delivery the receiver refuses; ``status`` is the 4xx it answers.

    Attributes:
        status: The HTTP status of the refusal (400, 401, 413, 415).
        reason: A short, secret-free explanation sent back in the body.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
