"""Metadata removal for untrusted documents (placeholder, filled in by the scrubbers issue)."""
