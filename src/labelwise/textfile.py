"""Reading a user's text file (data or config): UTF-8 (a BOM allowed), or one clear error that
names the file and the line of the first byte that is not UTF-8."""
from __future__ import annotations

from pathlib import Path

from .errors import InputError


def read_utf8(path: Path, error: type[InputError] = InputError, what: str = "file") -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise error(f"cannot read the {what}: {e.strerror or e}", path=str(path)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(f"bytes that are not UTF-8 at byte {e.start} ({data[e.start:e.start + 4]!r}); "
                    f"re-save the {what} as UTF-8", path=str(path), line=data[: e.start].count(b"\n") + 1) from None
