"""``seqkit data ls|fetch|verify``: the corpora the installed data sources declare, fetched and checked on request."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from seqkit.data import DataError, data_root, existing_data_root
from seqkit.data.corpora import Known, check, fetch_corpus, known_corpora
from seqkit.errors import UnknownNameError, suggest


def add_data_command(commands: Any) -> None:
    data = commands.add_parser("data", help="list, download and check the corpora the installed data sources know")
    actions = data.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = actions.add_parser("ls", help="each corpus: source, files, size, licence, SHA-256, present under $SEQKIT_DATA")
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    ls.set_defaults(handler=_ls)
    fetch = actions.add_parser("fetch", help="download a corpus into $SEQKIT_DATA/<folder>")
    fetch.add_argument("name", help="a corpus name from `seqkit data ls`")
    fetch.add_argument("--force", action="store_true", help="download again even when every file is present")
    fetch.set_defaults(handler=_fetch)
    verify = actions.add_parser("verify", help="check present files against their SHA-256 (exit 2 on a mismatch)")
    verify.add_argument("name", nargs="?", help="one corpus (default: every corpus)")
    verify.set_defaults(handler=_verify)


def _known() -> list[Known]:
    from seqkit.plugin.manager import get_plugin_manager

    return known_corpora(get_plugin_manager().datasets)


def _one(name: str) -> Known:
    known = _known()
    for entry in known:
        if entry.corpus.name == name:
            return entry
    names = [k.corpus.name for k in known]
    raise UnknownNameError(
        f"unknown corpus {name!r}{suggest(name, names) or '.'} Known corpora: {', '.join(names) or '(none)'}."
    )


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"


def _root_text() -> str:
    root = data_root()
    if root is None:
        return "$SEQKIT_DATA is unset: corpus folders are looked for in ."
    missing = "" if root.is_dir() else " (no such directory yet: `seqkit data fetch NAME` creates it)"
    return f"$SEQKIT_DATA={root}{missing}"


def _ls(args: argparse.Namespace) -> int:
    header = _root_text()  # first: $SEQKIT_DATA naming a file is one error, not every corpus absent
    rows = []
    for entry in _known():
        corpus = entry.corpus
        folder = corpus.location()
        present = [f for f in corpus.files if (folder / f.path).is_file()]
        rows.append(
            {
                "name": corpus.name,
                "source": entry.source,
                "plugin": entry.plugin,
                "folder": str(folder),
                "present": len(present) == len(corpus.files),
                "size": corpus.size,
                "licence": corpus.licence,
                "url": corpus.url,
                "fetch": corpus.fetch is not None,
                "files": [
                    {"path": f.path, "size": f.size, "sha256": f.sha256, "present": f in present} for f in corpus.files
                ],
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2), file=args.stdout)
        return 0
    print(header)
    for row in rows:
        count = sum(f["present"] for f in row["files"])
        where = "present" if row["present"] else f"absent ({count} of {len(row['files'])} files)" if count else "absent"
        print(
            f"{row['name']}  (source '{row['source']}', plugin '{row['plugin']}'): {len(row['files'])} files, "
            f"{_size(row['size'])}, {where} in {row['folder']}"
        )
        print(f"  licence: {row['licence']}")
        print(f"  from: {row['url'] or '-'}{'' if row['fetch'] else ' (seqkit cannot download it)'}")
        for f in row["files"]:
            print(
                f"  {f['path']}  {_size(f['size'])}  sha256 {f['sha256'] or '-'}  {'present' if f['present'] else '-'}"
            )
    if not rows:
        print("(no installed data source declares a corpus)")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    data_root()  # a file there is refused; a folder not there yet is created
    entry = _one(args.name)
    corpus, folder = entry.corpus, entry.corpus.location()
    statuses = check(corpus, folder)
    if not args.force and all(status in ("ok", "unchecked") for _, status in statuses):
        print(f"{corpus.name}: already present in {folder} (--force downloads it again)")
        return 0
    print(f"{corpus.name}: downloading from {corpus.url or 'its source'} (licence: {corpus.licence})", file=sys.stderr)
    written = fetch_corpus(corpus, folder)
    print(f"{corpus.name}: wrote {len(written)} files to {folder}")
    if data_root() is None:
        print(f"set SEQKIT_DATA={folder.resolve().parent} so that recipes find it from any folder")
    return 0


def _verify(args: argparse.Namespace) -> int:
    existing_data_root(args.name)  # else every corpus would be listed as missing, not the one setting at fault
    entries = [_one(args.name)] if args.name else _known()
    mismatched = []
    for entry in entries:
        folder = entry.corpus.location()
        for file, status in check(entry.corpus, folder):
            print(f"{entry.corpus.name}/{file.path}: {status}")
            if status.startswith("mismatch"):
                mismatched.append(folder / file.path)
    if args.name and all(not (entries[0].corpus.location() / f.path).is_file() for f in entries[0].corpus.files):
        raise DataError(
            f"corpus '{args.name}': none of its files is in {entries[0].corpus.location()} ({_root_text()}); "
            f"`seqkit data fetch {args.name}` downloads it"
        )
    if mismatched:
        more = f" and {len(mismatched) - 1} more" if len(mismatched) > 1 else ""
        raise DataError(
            f"{mismatched[0]}: SHA-256 differs from the declared one{more}; the file is damaged or another version"
        )
    return 0
