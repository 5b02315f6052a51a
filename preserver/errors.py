"""Errors of the preserver application, and the exit codes they map to.

    PreserverError                 base (exit 1)
    ├── InputError                 bad usage or bad input (exit 2)
    │   ├── ConfigError            config file unreadable or invalid
    │   ├── InvalidReport          report unreadable, empty, binary, too big, unknown type
    │   ├── InvalidURL             not an http(s) URL we can capture
    │   └── UnknownKey             no target / capture with that key
    ├── IntegrityError             a verification found something false (exit 1)
    └── RunError                   the run could not proceed: database or data dir
        │                          unusable (exit 1)
        ├── SchemaBehind           the database needs `preserver migrate`
        └── SchemaNewer            the database is newer than this preserver
    WitnessFailed                  Save Page Now did not give a snapshot (exit 1; a
                                   witness job records it and is retried, never fatal)

The CLI is the one boundary that turns these into a one-line message and exit code.
"""

from __future__ import annotations


class PreserverError(Exception):
    """preserver could not do what was asked."""

    exit_code = 1


class InputError(PreserverError):
    """The command's input is wrong: fix the input and run again."""

    exit_code = 2


class ConfigError(InputError):
    """The configuration file or an environment override is invalid."""


class InvalidReport(InputError):
    """A report file cannot be read as a report (empty, binary, too large, unknown type)."""


class InvalidURL(InputError):
    """The text is not an http(s) URL preserver can capture."""


class UnknownKey(InputError):
    """No target or capture in the archive has this key."""


class IntegrityError(PreserverError):
    """A verification check failed: something in the archive is not what it claims to be."""


class RunError(PreserverError):
    """The run could not proceed (database or data directory unusable)."""


class SchemaBehind(RunError):
    """The archive's database was made by an older preserver: ``preserver migrate``
    brings it up to date (writing commands migrate on their own)."""


class SchemaNewer(RunError):
    """The archive's database was migrated by a newer preserver than this one: upgrade
    preserver; this version must not read or write it."""


class WitnessFailed(PreserverError):
    """The independent witness (the Internet Archive's Save Page Now) gave no snapshot this
    time: an outage, a refusal, a rate limit, an answer that is not SPN2's. The witness
    job records the message and is tried again later unless ``transient`` is False (the
    Archive refuses this URL for good); ``retry_after`` is the server's Retry-After, if
    any, in seconds."""

    def __init__(self, message: str, *, transient: bool = True,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient, self.retry_after = transient, retry_after
