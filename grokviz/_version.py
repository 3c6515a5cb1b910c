"""The package version (one literal: pyproject.toml reads it, and run files record it)."""

__version__ = "0.1.0"
