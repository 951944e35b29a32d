"""Sound files written block by block through python-soundfile (libsndfile).

The format comes from the file's extension; the subtype (PCM_16, PCM_24, FLOAT...) is named as
soundfile names it. Everything that can be checked before rendering is checked when the writer is
built: the extension, the subtype, the sample rate, and that the directory takes a new file (the
writer creates its temporary file there at once). Blocks go to that temporary file beside the
target, which is renamed over the target only by ``commit``: a failed or interrupted render leaves
nothing behind.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import GraphError

__all__ = ["EXTENSIONS", "DEFAULT_SUBTYPES", "OutputFormat", "output_format", "AudioFileWriter"]

EXTENSIONS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG", ".aif": "AIFF", ".aiff": "AIFF"}
DEFAULT_SUBTYPES = {"WAV": "PCM_24", "FLAC": "PCM_24", "OGG": "VORBIS", "AIFF": "PCM_24"}
# Subtypes that keep samples beyond ±1; every other one clips them (or, for Vorbis, its decoder does).
_UNCLIPPED_SUBTYPES = ("FLOAT", "DOUBLE")


@dataclass(frozen=True)
class OutputFormat:
    """Where a render goes and how: the target path, soundfile's major format and subtype."""

    path: Path
    format: str
    subtype: str

    @property
    def clips(self) -> bool:
        """True when the subtype cannot hold samples beyond ±1."""
        return self.subtype not in _UNCLIPPED_SUBTYPES


def output_format(path: str | os.PathLike, subtype: str | None = None) -> OutputFormat:
    """The format for `path` from its extension, with `subtype` (default: the format's usual one).

    Raises :class:`amp.GraphError` for an unknown extension or a subtype the format cannot hold.
    """
    import soundfile

    path = Path(path)
    if path.is_dir():
        raise GraphError(f"{path}: is a directory; name a file in it")
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        known = ", ".join(sorted(EXTENSIONS))
        raise GraphError(f"{path}: cannot write {suffix or 'a file without an extension'}; "
                         f"amp writes {known}")
    major = EXTENSIONS[suffix]
    chosen = DEFAULT_SUBTYPES[major] if subtype is None else str(subtype).upper()
    if not soundfile.check_format(major, chosen):
        known = ", ".join(soundfile.available_subtypes(major))
        raise GraphError(f"{path}: {major} files cannot hold {chosen} samples; its subtypes: {known}")
    return OutputFormat(path, major, chosen)


def _new_file_mode(target: Path) -> int:
    """The mode the target would get from open(): its own when it exists, else 0o666 less the umask
    (mkstemp makes its files private)."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


class AudioFileWriter:
    """Writes float blocks of shape (C, F) into a temporary file beside the target.

    ``commit()`` renames it over the target; ``abort()`` (or leaving a ``with`` block by an
    exception) deletes it. With a subtype that cannot hold them, libsndfile clips samples beyond ±1
    (soundfile asks it to) and ``clipped`` counts them; ``peak`` is the largest magnitude written.
    """

    def __init__(self, fmt: OutputFormat, sample_rate: float, channels: int) -> None:
        import soundfile

        rate = float(sample_rate)
        if not math.isfinite(rate) or rate != math.floor(rate) or rate < 1:
            raise GraphError(f"{fmt.path}: a sound file's sample rate is a whole number of Hz, got {rate:g}")
        self.format = fmt
        self.channels = int(channels)
        self.frames = 0
        self.clipped = 0
        self.peak = 0.0
        self._file = None
        target = fmt.path
        if target.is_dir():
            raise GraphError(f"{target}: is a directory")
        directory = target.parent
        if not directory.is_dir():
            raise GraphError(f"{target}: the directory {directory} does not exist")
        try:
            handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
        except OSError as exc:
            raise GraphError(f"{target}: cannot write in {directory} ({exc.strerror or exc})") from None
        os.close(handle)
        self._temporary = Path(name)
        os.chmod(name, _new_file_mode(target))
        try:
            self._file = soundfile.SoundFile(name, "w", samplerate=int(rate), channels=self.channels,
                                             format=fmt.format, subtype=fmt.subtype)
        except (soundfile.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
            self._remove()
            raise GraphError(f"{target}: libsndfile refuses {fmt.format}/{fmt.subtype} at {int(rate)} Hz with "
                             f"{self.channels} channel(s): {exc}") from None

    @property
    def temporary_path(self) -> Path:
        """The file being written, renamed to the target by commit."""
        return self._temporary

    def write(self, block: np.ndarray) -> None:
        """Appends a block of shape (C, F) (float, any values; libsndfile clips for integer subtypes)."""
        block = np.asarray(block, dtype=np.float64)
        if block.size:
            self.peak = max(self.peak, float(np.max(np.abs(block))))
            if self.format.clips:
                self.clipped += int(np.count_nonzero(np.abs(block) > 1.0))
        try:
            self._file.write(np.ascontiguousarray(block.T))
        except (RuntimeError, OSError) as exc:  # a full disk, a vanished directory
            raise GraphError(f"{self.format.path}: writing failed ({exc})") from None
        self.frames += block.shape[-1]

    def commit(self) -> Path:
        """Closes the file and renames it to the target; returns the target."""
        self._file.close()
        try:
            os.replace(self._temporary, self.format.path)
        except OSError as exc:
            self._remove()
            raise GraphError(f"{self.format.path}: cannot replace it ({exc.strerror or exc})") from None
        return self.format.path

    def abort(self) -> None:
        """Closes and deletes the temporary file; the target is left as it was."""
        if self._file is not None:
            try:
                self._file.close()
            except Exception:  # a half-written file is about to be deleted anyway
                pass
        self._remove()

    def _remove(self) -> None:
        try:
            self._temporary.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> "AudioFileWriter":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None or (self._file is not None and not self._file.closed):
            self.abort()
