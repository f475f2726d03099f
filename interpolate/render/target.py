"""Where a render lands, safely: a temporary file (or folder) beside the output, renamed when complete.

    target = OutputTarget.plan('out/waifu.mp4', overwrite=False)   # checks, before a model is loaded
    target.open()        # creates the temp file (or folder) beside the output; the encoder writes target.tmp
    target.commit()      # rename into place (an older output is replaced only now)
    target.abort()       # error / Ctrl-C: remove the temp; any older output is untouched

The temp outlives one `with` block (ffmpeg streams into it for the whole render, and signals abort
it), so this is the one writer that does not use interpolate.files.atomic_path; it shares its error
messages and umask mode. Frames go to a temporary folder: a folder output is renamed into place as a whole; a pattern
('frames/%05d.png') has its files moved into the pattern's folder one by one at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import WaifuError
from ..files import os_error, umask
from .containers import output_kind


def pattern_regex(pattern: str) -> re.Pattern:
    """'%05d.png' -> a regex matching the names it produces."""
    head, tail = re.split(r"%0?\d*d", pattern, maxsplit=1)
    return re.compile(re.escape(head) + r"\d+" + re.escape(tail) + "$")


@dataclass
class OutputTarget:
    output: Path            # what the user asked for (a file, a folder, or a folder/pattern)
    kind: str               # mp4 | gif | webp | frames
    final: Path             # the file or folder that will exist when done
    tmp: str | None         # temporary file or folder in the same folder as `final` (after open())
    pattern: str            # file-name pattern of frames ('%05d.png' for folders)
    overwrite: bool
    into_existing: bool     # pattern outputs: files are moved into an existing folder

    @classmethod
    def plan(cls, output: str | os.PathLike, overwrite: bool = False, create: bool = True) -> "OutputTarget":
        """Check the output can be written (folder writable, nothing replaced without overwrite); the
        folder is created unless `create` is False (dry runs: its nearest existing parent must be writable)."""
        text = os.fspath(output)
        kind = output_kind(text)
        into_existing = kind == "frames" and "%" in os.path.basename(text)
        if into_existing:
            final, pattern = Path(os.path.dirname(text) or "."), os.path.basename(text)
        else:
            final, pattern = Path(text.rstrip("/" + os.sep) or "."), "%05d.png"
        folder = final if into_existing else final.parent
        if not create:
            folder = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
            if not folder.is_dir():
                raise WaifuError(f"cannot create the output folder below '{folder}': it is a file")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WaifuError(f"cannot create the output folder '{folder}': {exc.strerror or exc}") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise WaifuError(f"the folder '{folder}' is not writable; choose another place with -o")
        if not overwrite:
            cls._refuse_existing(final, kind, pattern, into_existing)
        elif kind != "frames" and final.is_dir():
            raise WaifuError(f"'{final}' is a folder; choose a file name with -o")
        return cls(Path(text), kind, final, None, pattern, overwrite, into_existing)

    def open(self) -> str:
        """Create the temporary file or folder the encoder writes to."""
        final, kind, into_existing = self.final, self.kind, self.into_existing
        folder = final if into_existing else final.parent
        try:
            if kind == "frames":
                self.tmp = tempfile.mkdtemp(prefix=f".{final.name if not into_existing else 'frames'}.", suffix=".part",
                                            dir=final if into_existing else final.parent)
            else:
                fd, self.tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
                os.close(fd)      # after self.tmp is set, so abort() finds the file whenever we are stopped
        except OSError as exc:
            raise os_error(exc, f"creating a temporary file in '{folder}'") from None
        return self.tmp

    @staticmethod
    def _refuse_existing(final: Path, kind: str, pattern: str, into_existing: bool) -> None:
        hint = "pass -y/--overwrite to replace it"
        if into_existing:
            rx = pattern_regex(pattern)
            if final.is_dir() and any(rx.match(n) for n in os.listdir(final)):
                raise WaifuError(f"'{final}' already holds frames named like '{pattern}'; {hint}")
        elif kind == "frames":
            if final.exists() and (not final.is_dir() or any(final.iterdir())):
                raise WaifuError(f"'{final}' exists and is not an empty folder; {hint}")
        elif final.exists():
            raise WaifuError(f"'{final}' exists; {hint}")

    # --- finishing ---------------------------------------------------------------------------------
    def commit(self) -> None:
        """Put the finished temp in place of the output (atomic for files)."""
        try:
            if self.kind != "frames":
                os.chmod(self.tmp, 0o666 & ~umask())
                os.replace(self.tmp, self.final)
            elif self.into_existing:
                self._commit_pattern()
            else:
                self._commit_folder()
        except OSError as exc:
            raise os_error(exc, f"writing '{self.final}'") from None

    def _commit_folder(self) -> None:
        os.chmod(self.tmp, 0o777 & ~umask())
        old = None
        if self.final.exists():
            if self.final.is_dir() and not any(self.final.iterdir()):
                self.final.rmdir()
            else:
                old = tempfile.mkdtemp(prefix=f".{self.final.name}.old.", dir=self.final.parent)
                os.rmdir(old)
                os.replace(self.final, old)
        os.replace(self.tmp, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True) if os.path.isdir(old) else os.unlink(old)

    def _commit_pattern(self) -> None:
        rx = pattern_regex(self.pattern)
        new = set(os.listdir(self.tmp))
        if self.overwrite:     # frames of an older, longer render would otherwise linger
            for name in os.listdir(self.final):
                if rx.match(name) and name not in new and (self.final / name).is_file():
                    os.unlink(self.final / name)
        for name in sorted(new):
            os.replace(os.path.join(self.tmp, name), self.final / name)
        os.rmdir(self.tmp)

    def abort(self) -> None:
        """Remove the temporary file or folder; whatever was at the output before stays as it was."""
        if self.tmp is None:
            return
        if os.path.isdir(self.tmp):
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif os.path.exists(self.tmp):
            os.unlink(self.tmp)

    def size_bytes(self) -> int:
        if self.kind != "frames":
            return self.final.stat().st_size
        rx = pattern_regex(self.pattern)
        return sum(p.stat().st_size for p in self.final.iterdir() if rx.match(p.name))
