"""Read CSV / JSONL / Parquet / CoNLL into Records; bad input stops here with file, line and field."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import InputError
from ..textfile import read_utf8
from ..types import Record
from .conll import conll_rows

Row = tuple[int, dict[str, Any]]  # (1-based line number in the file, row)


# The csv module refuses cells over 128 KiB by default; a long document is a legitimate cell,
# and the whole file is in memory already. 2**31 - 1 fits a C long on every platform.
_CSV_FIELD_LIMIT = 2**31 - 1


def _decode(path: Path) -> str:
    return read_utf8(path)


def _csv_error(e: csv.Error, path: Path, start: int, reached: int) -> InputError:
    """A csv.Error at the row that caused it. With ``strict=True`` an unclosed quote does not
    swallow the rows after it: the quoted cell runs on until the file ends ("unexpected end of
    data") or until a later quote that is not followed by a delimiter. Either way the culprit is
    the row where the cell opened, not the line the parser had reached."""
    if reached > start:
        return InputError(f"a quoted cell that starts in this row runs on to line {reached} (csv: {e}); "
                          "an unclosed quote? Close it, and write a quote inside a quoted cell as \"\"",
                          path=str(path), line=start)
    return InputError(f"bad quoting (csv: {e}); quote the whole cell and write a quote inside it as \"\"",
                      path=str(path), line=start)


def _csv_rows(path: Path, delimiter: str = ",") -> Iterator[Row]:
    """Yield (line where the row starts, row). Strict parsing: a quoting mistake is an error at
    the row that made it, never rows silently merged into one cell."""
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(_decode(path), newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise _csv_error(e, path, start, reader.line_num) from None
        if not cells:  # a blank line
            continue
        if header is None:
            header = cells
            seen: set[str] = set()
            for name in header:
                if name in seen:
                    raise InputError("this column name appears twice in the header; rename one",
                                     path=str(path), line=start, field=name)
                seen.add(name)
            continue
        if len(cells) != len(header):
            hint = "quote cells that contain commas" if len(cells) > len(header) else \
                "write an empty cell as an empty field (a,,c), never leave it out"
            raise InputError(f"row has {len(cells)} cells but the header has {len(header)}; {hint}",
                             path=str(path), line=start)
        yield start, dict(zip(header, cells))
    if header is None:
        raise InputError("the file is empty (no header row)", path=str(path), line=1)


def _jsonl_rows(path: Path) -> Iterator[Row]:
    # split on "\n" only: str.splitlines would also break at U+2028 and U+0085, which JSON
    # allows raw inside strings (and which our own JSONL export writes raw)
    for n, line in enumerate(_decode(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"broken JSON at column {e.colno}: {e.msg}", path=str(path), line=n) from None
        if not isinstance(obj, dict):
            raise InputError("each line must be a JSON object", path=str(path), line=n)
        yield n, obj


def _parquet_rows(path: Path) -> Iterator[Row]:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on extras
        raise InputError("reading Parquet needs pyarrow: pip install 'labelwise[parquet]'", path=str(path)) from None
    import pyarrow as pa
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"not a readable Parquet file: {e}", path=str(path)) from None
    for n, row in enumerate(table.to_pylist(), start=1):
        yield n, row  # "line" = row number for Parquet


_FORMATS: dict[str, Callable[[Path], Iterator[Row]]] = {
    "csv": _csv_rows, "tsv": partial(_csv_rows, delimiter="\t"), "jsonl": _jsonl_rows, "json": _jsonl_rows,
    "ndjson": _jsonl_rows, "parquet": _parquet_rows,
    "conll": conll_rows, "iob": conll_rows, "bio": conll_rows,  # .txt is too vague to guess: fmt="conll"
}


def field_text(value: Any) -> str:
    """An input field as plain text: a token list (NER) joined by spaces, anything else as str."""
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def read_rows(path: str | Path, fmt: str = "auto") -> Iterator[Row]:
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=str(path))
    if path.is_dir():
        raise InputError("is a directory, name a file (e.g. data/train.csv)", path=str(path))
    if fmt == "auto":
        fmt = path.suffix.lower().lstrip(".")
    if fmt not in _FORMATS:
        raise InputError(f"unknown format '{fmt}'; use one of csv, jsonl, parquet, conll "
                         "(a CoNLL file named *.txt needs format 'conll')", path=str(path))
    return _FORMATS[fmt](path)


def _check_input(value: Any, path: Path, line: int, field: str) -> Any:
    """An input value that is usable: non-blank text, or a non-empty list of non-blank strings (tokens).

    A number is kept (the prompt shows it as text). An object is refused: its Python repr in a
    prompt would be labeled as if it were the text, and which key holds the text is a guess.
    """
    if isinstance(value, dict):
        raise InputError(f"expected text, got a JSON object ({json.dumps(value, ensure_ascii=False, default=str):.60}); "
                         "put the text itself in this field", path=str(path), line=line, field=field)
    if isinstance(value, list):
        if not value:
            raise InputError("empty list; remove the row or fill it in", path=str(path), line=line, field=field)
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise InputError(f"element {i} is {item!r}; each element must be a non-empty string",
                                 path=str(path), line=line, field=field)
    elif value is None or (isinstance(value, str) and not value.strip()):
        raise InputError("empty text; remove the row or fill it in", path=str(path), line=line, field=field)
    return value


def content_id(fields: dict[str, Any]) -> str:
    """A record's id when the data has no id column: 16 hex digits of the SHA-256 of its input
    fields (as JSON). Unlike a row number it stays with the text when rows are inserted,
    removed or reordered."""
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def read_records(
    path: str | Path,
    *,
    input_fields: tuple[str, ...],
    fmt: str = "auto",
    id_field: str | None = None,
    label_field: str | None = None,
    normalize_gold: Callable[[Any], Any] | None = None,
    domain_field: str | None = None,
    split_field: str | None = None,
    limit: int | None = None,
) -> list[Record]:
    """Read and validate every row; the first problem raises an InputError naming its place.

    ``normalize_gold`` maps a raw gold value to a label of the task's schema and raises
    ``ValueError`` for a value outside it.
    """
    records: list[Record] = []
    seen: set[str] = set()
    for index, (line, row) in enumerate(read_rows(path, fmt)):
        if limit is not None and len(records) >= limit:
            break
        for f in input_fields + tuple(x for x in (id_field, label_field, domain_field, split_field) if x):
            if f not in row:
                have = ", ".join(map(str, row)) or "none"
                raise InputError(f"missing column; the row has: {have}", path=str(path), line=line, field=f)
        fields = {}
        for f in input_fields:
            fields[f] = _check_input(row[f], path, line, f)
        if id_field:
            rid = str(row[id_field])
            if rid in seen:
                raise InputError(f"duplicate id '{rid}'", path=str(path), line=line, field=id_field)
        else:  # no id column: an id from the content, which stays put when rows are added or moved
            rid = base = content_id(fields)
            n = 1
            while rid in seen:  # the same text twice: the second is base-2, and so on, in file order
                n += 1
                rid = f"{base}-{n}"
        seen.add(rid)
        gold = None
        if label_field and row[label_field] not in (None, ""):
            gold = row[label_field]
            if normalize_gold is not None:
                try:
                    gold = normalize_gold(gold)
                except ValueError as e:
                    raise InputError(str(e), path=str(path), line=line, field=label_field) from None
        records.append(Record(
            id=rid, fields=fields, gold=gold,
            domain=str(row[domain_field]) if domain_field else None,
            split=str(row[split_field]) if split_field else None,
        ))
    if not records:
        raise InputError("no rows to read", path=str(path))
    return records
