"""workflowd: a personal workflow automation daemon."""

__version__ = "0.1.0"
