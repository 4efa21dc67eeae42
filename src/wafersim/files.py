"""The one place input files are read: every OS or decoding failure becomes a WafersimError naming the file.

Model configs, catalog and fabric TOML, validation points, traces and scenarios all come through here, so a
directory, an unreadable file or a binary file given where text is expected reads as one clear line.
"""

from __future__ import annotations

import os
from pathlib import Path

from wafersim.errors import WafersimError

# The largest input file read into memory whole (1 GiB): the biggest shipped trace is a few MB; a file beyond
# this is almost surely the wrong file, and reading it would take the memory the simulation needs.
MAX_FILE_BYTES = 1 << 30


def read_bytes(path: Path | str, what: str = "file") -> bytes:
    """The file's bytes, or a WafersimError naming `path` (missing, a directory, unreadable, too large)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise IsADirectoryError(path)
        if size > MAX_FILE_BYTES:
            raise WafersimError(
                f"{path}: {size / 2**30:.1f} GiB is larger than any {what} wafersim reads "
                f"(limit {MAX_FILE_BYTES / 2**30:.0f} GiB)"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise WafersimError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise WafersimError(f"{path}: is a directory, expected a {what}") from None
    except PermissionError:
        raise WafersimError(f"{path}: permission denied (cannot read this {what})") from None
    except OSError as error:
        raise WafersimError(
            f"{path}: cannot read this {what} ({os.strerror(error.errno or 0) or error})"
        ) from None


def read_text(path: Path | str, what: str = "file") -> str:
    """The file as UTF-8 text (a BOM is dropped), or a WafersimError naming `path`."""
    data = read_bytes(path, what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise WafersimError(
            f"{Path(path)}: not UTF-8 text (byte {error.start}: {error.reason}); expected a {what}"
        ) from None


# Picture formats the plot writers produce (matplotlib's raster and vector backends).
PICTURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def output_path(path: Path | str, what: str = "output file", suffixes: tuple[str, ...] = ()) -> Path:
    """Check, before any work, that `path` can be written: its folder exists, it is not a folder, and its
    suffix is one the writer produces. Returns the path; raises a WafersimError naming it otherwise."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise WafersimError(
            f"cannot write {what} {path}: a {what} is written as {', '.join(suffixes)}; "
            f"'{path.suffix or '(no suffix)'}' is not one"
        )
    if path.is_dir():
        raise WafersimError(f"cannot write {what} {path}: it is a directory; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise WafersimError(
            f"cannot write {what} {path}: the folder {folder} does not exist (create it first)"
        )
    if not os.access(folder, os.W_OK):
        raise WafersimError(f"cannot write {what} {path}: the folder {folder} is not writable")
    return path


def write_text(path: Path | str, text: str, what: str = "output file") -> Path:
    """Write `text` as UTF-8, naming the file in any failure."""
    path = output_path(path, what)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise WafersimError(f"cannot write {what} {path}: {error.strerror or error}") from None
    return path
