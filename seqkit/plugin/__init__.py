"""The plugin system: the plugin manager, the registries of what plugins provide, registrations by name
(imported on first use) and the checks of installed plugin versions. The hooks themselves are specified in
``seqkit/hookspecs.py``, the plugin authors' contract, which stays at the top where they look for it.

It imports nothing of the layer library, recipe, run or command line.
"""
