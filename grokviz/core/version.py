"""The grokviz version (core: run files record it; the package re-exports it)."""

__version__ = "0.1.0"
