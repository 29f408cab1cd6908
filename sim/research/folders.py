"""Several folders per set: which files ``keepmum far`` scores, and what each folder contributed.

``--positives`` and ``--negatives`` may each be given several times; every folder is read
recursively (:func:`sim.research.corpus.audio_files`). A file reached twice, through two folders
that overlap or a link to the same file, is refused: counted twice it would add its hours twice.

:func:`folder_tallies` splits a sweep by folder: per folder and threshold, the false rejects
(positives) or false accepts (negatives), so that a researcher sees which set fools the model.
The folders' files, hours and counts add up to the totals of the whole sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from keepmum.errors import ConfigError
from sim.research.corpus import audio_files
from sim.research.far import ScoredFile
from wakeword.metrics import DetPoint

__all__ = ["FolderTally", "InputFolder", "collect_folders", "folder_tallies"]

ROLES = {"positive": "--positives", "negative": "--negatives"}


@dataclass(frozen=True)
class InputFolder:
    """One folder a user named, and the audio files found under it (sorted, recursive)."""

    role: str
    """``positive`` or ``negative``."""
    folder: Path
    files: tuple[Path, ...]


@dataclass(frozen=True)
class FolderTally:
    """What one folder contributed to a sweep: its files and hours, and its errors per
    threshold (in the sweep's order)."""

    role: str
    folder: Path
    files: int
    hours: float
    """Hours of the files' own audio (padding excluded)."""
    errors: tuple[int, ...]
    """Per threshold: false rejects (positives) or false accepts (negatives)."""

    def as_dict(self, index: int) -> dict[str, object]:
        """This folder's entry in the ``--json`` line of the ``index``-th threshold."""
        error = "false_rejects" if self.role == "positive" else "false_accepts"
        return {
            "role": self.role,
            "folder": str(self.folder),
            "files": self.files,
            "hours": self.hours,
            error: self.errors[index],
        }


def collect_folders(
    positives: Sequence[Path], negatives: Sequence[Path]
) -> tuple[list[InputFolder], list[tuple[Path, str]]]:
    """The folders in the order given and the ``(path, role)`` list to score. Raises
    :class:`ConfigError` for a missing or empty folder and for a file reached twice."""
    folders: list[InputFolder] = []
    seen: dict[Path, tuple[str, Path]] = {}
    for role, given in (("positive", positives), ("negative", negatives)):
        option = ROLES[role]
        for folder in given:
            files = tuple(audio_files(folder, option))
            for path in files:
                key = path.resolve()
                if key in seen:
                    first_role, first = seen[key]
                    raise ConfigError(
                        f"{option} {folder}: {path} was already found under "
                        f"{ROLES[first_role]} {first}; each file may be scored once "
                        "(give folders that do not overlap)"
                    )
                seen[key] = (role, folder)
            folders.append(InputFolder(role, folder, files))
    pairs = [(path, f.role) for f in folders for path in f.files]
    return folders, pairs


SweepFn = Callable[[Sequence[ScoredFile]], Sequence[DetPoint]]
"""Sweeps a subset of the scored files with the run's settings (the run's own sweep function)."""


def folder_tallies(
    folders: Sequence[InputFolder], scored: Sequence[ScoredFile], sweep: SweepFn
) -> list[FolderTally]:
    """Each folder's files, hours and per-threshold errors, by sweeping its files alone with
    the run's own ``sweep`` (so the folders' counts add up to the whole sweep's)."""
    by_path = {item.path: item for item in scored}
    tallies = []
    for folder in folders:
        mine = [by_path[path] for path in folder.files]
        points = sweep(mine)
        errors = tuple(
            p.false_rejects if folder.role == "positive" else p.false_accepts for p in points
        )
        tallies.append(
            FolderTally(
                role=folder.role,
                folder=folder.folder,
                files=len(mine),
                hours=sum(item.result.audio_s for item in mine) / 3600,
                errors=errors,
            )
        )
    return tallies
