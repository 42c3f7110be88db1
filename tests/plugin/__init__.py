"""The plugin system (seqkit/plugin/, seqkit/hookspecs.py): loading, typed hooks, registries, governance,
third-party packages."""
