"""``seqkit plugins [--json]``: each installed plugin, its distribution and version, and what it registered."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from seqkit.errors import printable

EXIT_USAGE = 2


def add_plugins(commands: Any) -> None:
    plugins = commands.add_parser("plugins", help="list installed plugins and what each registered")
    plugins.add_argument("--json", action="store_true", help="print a JSON list of plugins")
    plugins.set_defaults(handler=_plugins)


def _plugins(args: argparse.Namespace) -> int:
    from seqkit.plugin.manager import PluginManager

    # Tolerant loading: a broken plugin must not hide the others from the tool that diagnoses it.
    manager = PluginManager(strict=False)
    infos = manager.plugins
    status = 0
    for error in manager.errors:
        print(f"seqkit plugins: error: {printable(error)}", file=sys.stderr)
        status = EXIT_USAGE
    if args.json:
        print(json.dumps([info.as_dict() for info in infos], indent=2), file=args.stdout)
        return status
    rows = [("PLUGIN", "DISTRIBUTION", "VERSION", "REGISTERS")]
    for info in infos:
        registers = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info.registers.items()) or "-"
        row = (info.name, info.distribution or "(in-process)", info.version or "-", registers)
        rows.append(tuple(printable(cell) for cell in row))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3])
    if not infos:
        print("(no plugins loaded; check SEQKIT_PLUGINS / SEQKIT_DISABLE_PLUGINS)")
    return status
