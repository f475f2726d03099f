"""Writing and hashing files: the one place for both.

Every file the project writes (outputs, sidecars, latents, trained checkpoints and snapshots,
figures, recipes) goes through `atomic_path` or `atomic_write`: a temporary file in the target's
own folder, fsynced, given the mode the user's umask gives a new file, then renamed over the
target. On any error (or Ctrl-C) the temporary file is removed and an older file is untouched.

    with atomic_path("out/w.npz") as tmp:      # for writers that want a path (np.savez, torch.save, PIL)
        np.savez(tmp, w=w)
    with atomic_write("out/recipe.toml", "w") as f:
        f.write(text)

`sha256_file` is the one file hash (checkpoints in sidecars, batch resume, songs);
`NUMPY_READ_ERRORS` is what a damaged .npy/.npz can raise, for every reader of one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import IO, Iterator

from .errors import WaifuError


def umask() -> int:
    """The process umask (read without changing it for longer than one call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def os_error(exc: OSError, what: str) -> WaifuError:
    """An OSError as the one-line message a user can act on."""
    if exc.errno == errno.ENOSPC:
        return WaifuError(f"the disk is full while {what}; free some space or write elsewhere with -o")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return WaifuError(f"permission denied while {what}; choose a folder you can write with -o")
    return WaifuError(f"error while {what} ({exc.strerror or exc}); choose another place with -o")


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """Yield a temporary path beside `path`; on success fsync it and rename it over `path`.

    `suffix` is appended to the temporary name for writers that pick a format from the extension
    (np.savez adds '.npz' to names without it, PIL chooses by suffix): pass e.g. '.npz' or '.png'.
    """
    final = Path(path)
    folder = final.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part" + suffix, dir=folder)
        os.close(fd)
    except OSError as exc:
        raise os_error(exc, f"writing '{final}'") from None
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, final)
    except OSError as exc:
        raise os_error(exc, f"writing '{final}'") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", **open_kwargs) -> Iterator[IO]:
    """`open(path, mode)` that only replaces `path` once the block finished without error."""
    if "w" not in mode:
        raise ValueError("atomic_write is for writing")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **open_kwargs) as f:
            yield f


# what numpy raises for a damaged .npy/.npz: a broken header is parsed with tokenize and ast; a damaged
# zip member can be an unknown compression (NotImplementedError), "encrypted" (RuntimeError) or bad
# deflate data (zlib.error). Every reader of a user's numpy file catches exactly these.
NUMPY_READ_ERRORS = (OSError, EOFError, ValueError, TypeError, SyntaxError, tokenize.TokenError, zipfile.BadZipFile,
                     NotImplementedError, RuntimeError, zlib.error)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
