"""Recipes: finding and loading them with overrides (``load``), the keys seqkit reads in each section
(``sections``), checking every key against the registries and builders' signatures (``validate``, ``typecheck``,
``dry_build``), and the model.cell section as a cell factory (``cell_factory``).

It imports the layer library and the plugin system, never the run or the command line.
"""
