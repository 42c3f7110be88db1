"""The code's shape: one-way imports without cycles, no built-in plugin's name in the core, plugins on the
public API."""
