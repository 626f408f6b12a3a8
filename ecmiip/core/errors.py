"""Errors a user can act on. The CLI prints them without a traceback and exits non-zero."""

from __future__ import annotations


class EcmiipError(Exception):
    """Base of every error that carries a message meant for the user."""


class InputError(EcmiipError):
    """A file or directory the user gave is missing, corrupt or of the wrong kind."""


class UnsupportedError(EcmiipError):
    """The input is valid but of a kind this toolkit does not handle (architecture, adapter type...)."""


class OutputExistsError(EcmiipError):
    """An output already exists and ``--force`` was not given."""


class DiskSpaceError(EcmiipError):
    """Not enough free disk for the outputs; checked before any work starts."""


class VerificationError(EcmiipError):
    """A verification check failed; the report names which."""
