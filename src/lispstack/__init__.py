"""lispstack: the Locator/ID Separation Protocol (RFC 9300, RFC 9301) in Python."""

__version__ = "0.1.0"
