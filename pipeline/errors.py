"""Failures someone can act on. Each docstring is the default message and says what to do."""

from __future__ import annotations


class IntakeError(Exception):
    """Something went wrong in intake."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(IntakeError):
    """A setting is wrong: fix the named key in intake.toml or its INTAKE_* variable."""


class UnprocessableMail(IntakeError):
    """The message cannot be processed; it stays in the quarantine (`intake quarantine list`)."""


class StoreUnavailable(IntakeError):
    """The database could not store the item; the sender should retry later."""


class RelayDenied(IntakeError):
    """The recipient is not one of our service addresses; we are not a relay."""


class UnsignedWebhook(IntakeError):
    """The webhook request has no valid X-Twilio-Signature for the configured public URL."""


class NotFound(IntakeError):
    """No such item: check the number or id (`intake tickets list`)."""


class UsageError(IntakeError):
    """The command was called wrongly: see `intake --help`."""


class CannotListen(IntakeError):
    """A listen address is taken or not available on this host: stop what holds it, or set another address."""
