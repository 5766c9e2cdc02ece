"""Compatibility fixes (filled in)."""
