"""``seqkit ls [WHAT]``: the recipes and the registered cells, kernels, tasks, data sources, tokenizers, callbacks."""

from __future__ import annotations

import argparse
from typing import Any

from seqkit.errors import printable

LISTABLE = ("recipes", "cells", "kernels", "tasks", "datasets", "tokenizers", "callbacks")


def add_ls(commands: Any) -> None:
    ls = commands.add_parser(
        "ls", help="list recipes and registered cells, kernels, tasks, datasets, tokenizers, callbacks"
    )
    ls.add_argument("what", nargs="?", choices=LISTABLE, help="one list only")
    ls.set_defaults(handler=_ls)


def _ls(args: argparse.Namespace) -> int:
    from seqkit.plugin.manager import get_plugin_manager
    from seqkit.recipe.load import list_recipes
    from seqkit.rnn.kernels import GENERIC, REFERENCE

    manager = get_plugin_manager()
    for what in [args.what] if args.what else LISTABLE:
        print(f"{what}:")
        if what == "recipes":
            rows = [(name, str(path)) for name, path in list_recipes().items()]
        elif what == "kernels":
            rows = [(f"{k.cell}/{k.name}", f"priority {k.priority}; {k.description}") for k in manager.kernels]
            # seqkit's own two run every cell and are not registered by a plugin, but `backend:` can name them
            rows += [(k.name, f"priority {k.priority}; {k.description}") for k in (GENERIC, REFERENCE)]
        else:
            rows = [(spec.name, spec.description) for spec in getattr(manager, what)]
        width = max((len(name) for name, _ in rows), default=0)
        for name, text in rows:
            print(f"  {printable(name).ljust(width)}  {printable(text)}")
        if not rows:
            print("  (none)")
    return 0
