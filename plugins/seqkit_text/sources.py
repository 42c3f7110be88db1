"""Generic data sources: ``table`` (TSV, CSV or JSONL, plain or .gz) and ``lines_per_label``."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from seqkit import Located, Record, data_error, read_lines, resolve_path

Field = str | int
FIELD_LIMIT = 1 << 21  # bytes: above seqkit's longest line (1 MiB), so the line limit is the one that speaks
FORMATS = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}


def table(
    path: str | dict[str, str],
    *,
    format: Literal["tsv", "csv", "jsonl"] | None = None,
    text_field: Field = "text",
    label_field: Field = "label",
    source_field: Field | None = None,
    target_field: Field | None = None,
    header: bool = True,
    labels: list[str | int] | None = None,
    encoding: str = "utf-8",
) -> list[Record] | dict[str, list[Record]]:
    """Records from a table: ``{"text", "label"}``, or ``{"source", "target"}`` when ``source_field`` is set.

    ``path`` is one file (split by ``data.split``) or ``{train: ..., valid: ..., test: ...}``. Fields are
    column names (``header: true``) or 0-based column numbers. ``labels``, when given, is the closed
    label set: any other label is an error naming its file and line.
    """
    if isinstance(path, dict):
        return {
            split: table(
                p,
                format=format,
                text_field=text_field,
                label_field=label_field,
                source_field=source_field,
                target_field=target_field,
                header=header,
                labels=labels,
                encoding=encoding,
            )
            for split, p in path.items()
        }
    file = resolve_path(path)
    kind = format or FORMATS.get(Path(file.name.removesuffix(".gz")).suffix)
    if kind is None:
        raise data_error(file, "cannot tell the format from the name; set data.format to tsv, csv or jsonl")
    pairs = source_field is not None or target_field is not None
    wanted = {"source": source_field, "target": target_field} if pairs else {"text": text_field, "label": label_field}
    if any(v is None for v in wanted.values()):
        raise data_error(file, "pairs need both source_field and target_field")
    rows = _json_rows(file, encoding) if kind == "jsonl" else _delimited_rows(file, kind, header, encoding)
    records = []
    for line, row in rows:
        record = {}
        for name, field in wanted.items():
            value = _field(row, field, file, line)
            if not isinstance(value, str):
                value = str(value) if name == "label" and isinstance(value, (int, bool)) else value
            if not isinstance(value, str) or not value.strip():
                raise data_error(file, f"field {field!r} ({name}) is empty or not text: {value!r}", line)
            record[name] = value
        if labels is not None and not pairs and record["label"] not in [str(label) for label in labels]:
            raise data_error(file, f"unknown label {record['label']!r}; expected one of {labels}", line)
        records.append(Located(f"{file}:{line}", **record))
    if not records:
        raise data_error(file, "no records (only a header?)")
    return records


def _delimited_rows(file: Path, kind: str, header: bool, encoding: str) -> Iterator[tuple[int, dict | list]]:
    delimiter = "\t" if kind == "tsv" else ","
    names: list[str] | None = None
    first: tuple[int, int] | None = None  # the first row's line and width, without a header
    # A field may be as long as a line may be (csv's own default limit is 128 KiB)
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))
    for line, text in read_lines(file, encoding=encoding):
        try:
            cells = next(
                csv.reader([text], delimiter=delimiter, quoting=csv.QUOTE_NONE if kind == "tsv" else csv.QUOTE_MINIMAL)
            )
        except csv.Error as error:
            raise data_error(file, f"not valid {kind.upper()}: {error}", line) from None
        if header and names is None:
            names = cells
            continue
        if names is not None:
            if len(cells) != len(names):
                raise data_error(file, f"expected {len(names)} columns ({', '.join(names)}), found {len(cells)}", line)
            yield line, dict(zip(names, cells))
        else:  # no header: every row as wide as the first, as a header's width holds every row to it
            if first is None:
                first = (line, len(cells))
            elif len(cells) != first[1]:
                raise data_error(file, f"expected {first[1]} columns (as on line {first[0]}), found {len(cells)}", line)
            yield line, cells


def _json_rows(file: Path, encoding: str) -> Iterator[tuple[int, dict]]:
    for line, text in read_lines(file, encoding=encoding):
        try:
            row = json.loads(text)
        except json.JSONDecodeError as error:
            raise data_error(file, f"not valid JSON: {error.msg} at column {error.colno}", line) from None
        except RecursionError:
            raise data_error(file, "JSON nested too deeply (expected one flat object per line)", line) from None
        if not isinstance(row, dict):
            raise data_error(file, f"expected a JSON object per line, got {type(row).__name__}", line)
        yield line, row


def _field(row: dict | list, field: Field, file: Path, line: int) -> Any:
    if isinstance(row, dict):
        if field not in row:
            raise data_error(file, f"no column {field!r}; columns: {', '.join(map(str, row))}", line)
        value = row[field]
        return " ".join(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else value
    if not isinstance(field, int):
        raise data_error(
            file, f"column {field!r} named, but the file has no header (header: false); use a column number", line
        )
    if not 0 <= field < len(row):
        raise data_error(file, f"no column {field} (0-based); the line has {len(row)} columns", line)
    return row[field]


def lines_per_label(files: dict[str, str], *, encoding: str = "utf-8") -> list[Record]:
    """``{"text", "label"}`` records from ``{label: path}``, one example a line."""
    if not files:
        raise data_error("data.files", "name at least one label file: {label: path, ...}")
    records = []
    for label, path in files.items():
        file = resolve_path(path)
        for line, text in read_lines(file, encoding=encoding):
            records.append(Located(f"{file}:{line}", text=text.strip(), label=str(label)))
    return records
