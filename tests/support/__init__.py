"""Helpers shared by the tests: fixture builders, servers to drive, harnesses. No tests here."""
