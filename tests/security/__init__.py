"""Hostile input: tampered checkpoints, recipes that try to run code, a corpus of bad input (docs/security.md)."""
