"""Finds the students in the folders given to `alfred grade` and reads each one's work once, at discovery.

A class folder holds one folder or `.py` file per student; its name is the student's id. Everything a
student submitted is untrusted, names included, so this module:

- reads each submission into memory once (`Entry.files`), through descriptors opened relative to the
  student's own folder with O_NOFOLLOW, so nothing is read through a link that leaves that folder, and
  nothing changed on disk afterwards (a file edited, swapped or replaced by a link) reaches the grade;
- follows a symbolic link only while it stays inside the student's folder (like openat2's RESOLVE_BENEATH),
  refuses a hard link whose other names lie outside it, and turns a loop into an error row;
- turns each name into a printable id (`Entry.student`) and a short, safe file name for the reports
  (`Entry.slug`), so no byte of a name reaches a terminal, a report or a path unescaped.

A problem with one entry gives that entry an error row (`Entry.problem`); it never stops the class.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from alfred.judge.feedback import printable
from alfred.course.lesson import current, written_folders
from alfred.reports.names import slug_of
from alfred.inside.probe import PROJECT_SKIPPED  # one list: what discovery leaves out is what the probe never lays out

MAX_SOURCE_BYTES = 1_000_000  # main.py
MAX_FOLDER_BYTES = 5_000_000  # everything else a student's project holds (templates, static files, data)
MAX_FOLDER_FILES = 300
MAX_DEPTH = 12
MAX_LINK_HOPS = 40  # as the kernel allows for one path


class GradeError(Exception):
    """Bad input for the whole run (no such PATH, an empty class): one line, exit code 2."""


@dataclass(frozen=True)
class Entry:
    """One student's submission as read at discovery."""

    student: str  # the id, printable
    slug: str  # a file name for this student's reports: short, safe, unique, stable
    files: dict[str, bytes] = field(default_factory=dict, repr=False)  # relative path -> bytes, main file included
    main: str = ""  # the student's file among `files` ("main.py"); "" with a problem
    label: str = ""  # how learner messages name that file: as it lies in the class folder
    problem: str = ""  # why nothing could be graded
    path: Path | None = None  # where it was found: for the teacher's eyes and the kit's tests, never read again


@dataclass(frozen=True)
class Discovery:
    entries: list[Entry]
    skipped: list[str]  # one line per entry of a class folder that is not a submission


def discover(paths: list[Path], exclude: tuple[Path, ...] = (), main_candidates: tuple[str, ...] = ()) -> Discovery:
    """The submissions under `paths`, each a student's file or folder, or a class folder of them. Entries
    that are the same folder as one in `exclude` (the output folder) are never taken for a student."""
    candidates = main_candidates or ("main.py",)
    excluded = {_identity(path) for path in exclude if path.exists()}
    found: list[tuple[str, Path]] = []
    skipped: list[str] = []
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise GradeError(f"{path} does not exist. Give a student's .py file or folder, or a class folder.")
        if _is_single_submission(path, candidates):
            found.append((path.name, path))
            continue
        before = len(found)
        with os.scandir(path) as listing:
            children = sorted(listing, key=lambda entry: entry.name)
        for child in children:
            name = child.name
            if name.startswith("."):
                skipped.append(f"{_shown(name)}: a hidden entry")
            elif _identity(Path(child.path)) in excluded:
                skipped.append(f"{_shown(name)}: the output folder, not a student")
            elif child.is_symlink() or child.is_dir(follow_symlinks=False) or name.endswith(".py"):
                found.append((name, Path(child.path)))
            else:
                skipped.append(f"{_shown(name)}: not a .py file or a folder"
                               + ("; unzip it into a folder named after the student" if name.endswith(".zip") else ""))
        if len(found) == before:
            raise GradeError(f"No submissions found in {path}/. Put one folder or .py file per student there, "
                             f"then run `alfred grade {path}` again.")
    ids = _unique_ids([name for name, _ in found])
    return Discovery([_read_entry(student, path, candidates) for student, (_, path) in zip(ids, found)], skipped)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = path.lstat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _is_single_submission(path: Path, candidates: tuple[str, ...]) -> bool:
    """A .py file, or one student's project: a folder whose own main.py (a real file, not a link) is the only
    thing in it that could be a submission. A folder that also holds other .py files or folders with a
    main.py is a class folder, whatever its main.py says: a student named `main` cannot make the class one
    project."""
    if path.is_file() and not path.is_symlink():
        return True
    if not path.is_dir() or not any(_is_real_file(path / candidate) for candidate in candidates):
        return False
    containers = {candidate.split("/")[0] for candidate in candidates if "/" in candidate}
    with os.scandir(path) as children:
        for child in children:
            if child.name.startswith(".") or child.name in containers or child.name == "main.py":
                continue
            if child.name.endswith(".py") or child.is_symlink():
                return False
            if child.is_dir(follow_symlinks=False) and any(_is_real_file(Path(child.path) / c) for c in candidates):
                return False
    return True


def _is_real_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode) and not path.parent.is_symlink()
    except OSError:
        return False


def _shown(name: str) -> str:
    """A file name as one printable line: bytes that are not UTF-8, controls and line breaks escaped."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return printable(text).replace("\n", "\\n").replace("\t", "\\t")


def _unique_ids(names: list[str]) -> list[str]:
    """Printable ids, all different: the file's stem or the folder's name; the whole name where two stems
    meet; a number where even those meet, never one that another entry already has."""
    stems = [_shown(name[:-3] if name.endswith(".py") else name) for name in names]
    counts = Counter(stems)
    ids = [stem if counts[stem] == 1 else _shown(name) for stem, name in zip(stems, names)]
    counts = Counter(ids)
    taken = set(ids)
    unique = []
    for student in ids:
        if counts[student] > 1:
            number = 2
            while f"{student}~{number}" in taken:
                number += 1
            student = f"{student}~{number}"
            taken.add(student)
        unique.append(student)
    return unique


# --- reading one submission ---


class _Refused(Exception):
    """This submission cannot be graded; the message says why, to the student and the teacher."""


def read_submission(path: Path, student: str, main_candidates: tuple[str, ...]) -> Entry:
    """One student's submission, a file or a folder known to be one project (an upload on a grading
    platform), read as discovery reads each entry of a class."""
    return _read_entry(_shown(student), path, main_candidates)


def _read_entry(student: str, path: Path, candidates: tuple[str, ...]) -> Entry:
    slug = slug_of(student)
    try:
        main, files, label = _read_submission(path, candidates)
    except _Refused as refused:
        return Entry(student, slug, problem=str(refused), path=path)
    except OSError as exc:
        return Entry(student, slug, problem=f"{_shown(path.name)} could not be read: {exc.strerror or exc}", path=path)
    folder = label.rpartition("/")[0]  # the folder of the student's file, as it lies in the class folder
    missing = current().files_missing(lambda name: name in files or any(p.startswith(f"{name}/") for p in files),
                                      _shown(folder or path.name))
    if missing:
        return Entry(student, slug, problem=missing, path=path)
    return Entry(student, slug, files, main, _shown(label), path=path)


def _read_submission(path: Path, candidates: tuple[str, ...]) -> tuple[str, dict[str, bytes], str]:
    try:
        info = path.lstat()
    except OSError as exc:
        raise _Refused(f"{_shown(path.name)} could not be read: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise _Refused(f"{_shown(path.name)} is a symbolic link; the grader reads only folders and files that are "
                       "really in the class folder")
    if stat.S_ISREG(info.st_mode):
        if not path.name.endswith(".py"):
            raise _Refused(f"{_shown(path.name)} is not a Python file")
        parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fd = _open_beneath(parent, PurePosixPath(path.name))
        finally:
            os.close(parent)
        return "main.py", {"main.py": _read_main(fd, Counter())}, path.name
    if not stat.S_ISDIR(info.st_mode):
        raise _Refused(f"{_shown(path.name)} is neither a file nor a folder")
    root = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        main, files, candidate = _read_project(root, path.name, candidates)
    finally:
        os.close(root)
    return main, files, f"{path.name}/{candidate}"


def _read_project(root: int, name: str, candidates: tuple[str, ...]) -> tuple[str, dict[str, bytes], str]:
    """The student's file and every other file of the folder holding it (its project), read beneath `root`."""
    for candidate in candidates:
        try:
            fd = _open_beneath(root, PurePosixPath(candidate))
        except FileNotFoundError:
            continue
        break
    else:
        raise _Refused(f"no {' or '.join(candidates)} in {_shown(name)}/")
    names_of: Counter = Counter()
    names_of[_inode(fd)] += 1
    main_source = _read_main(fd, None)
    project = PurePosixPath(candidates[candidates.index(candidate)]).parent
    project_fd = _open_beneath(root, project, directory=True) if project.parts else os.dup(root)
    try:
        files = _read_tree(project_fd, names_of, main_name=PurePosixPath(candidate).name)
    finally:
        os.close(project_fd)
    for inode, count in names_of.items():
        if inode[2] > count:
            raise _Refused("a file of the folder is a hard link shared with a file outside it")
    main = PurePosixPath(candidate).name
    return main, {main: main_source, **files}, candidate


def _read_main(fd: int, names_of: Counter | None) -> bytes:
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Refused("main.py is not a regular file")
        if names_of is not None and info.st_nlink > 1:
            raise _Refused("main.py is a hard link shared with a file outside the student's folder")
        if info.st_size > MAX_SOURCE_BYTES:
            raise _Refused(f"main.py is {info.st_size:,} bytes; the grader reads at most {MAX_SOURCE_BYTES:,}")
        with os.fdopen(os.dup(fd), "rb") as stream:
            data = stream.read(MAX_SOURCE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_SOURCE_BYTES:
        raise _Refused(f"main.py is larger than the {MAX_SOURCE_BYTES:,} bytes the grader reads")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("main.py is not UTF-8 text (a binary file, or another encoding)") from None
    return data


def _read_tree(folder: int, names_of: Counter, main_name: str, prefix: PurePosixPath = PurePosixPath(),
               budget: list[int] | None = None, top: int | None = None) -> dict[str, bytes]:
    """Every regular file under `folder` but the student's file itself, as relative path -> bytes."""
    budget = budget if budget is not None else [MAX_FOLDER_BYTES, MAX_FOLDER_FILES]
    top = folder if top is None else top
    files: dict[str, bytes] = {}
    if len(prefix.parts) > MAX_DEPTH:
        raise _Refused(f"the folder is nested more than {MAX_DEPTH} levels deep")
    with os.scandir(folder) as entries:
        listing = sorted((entry.name, entry.is_symlink(), entry.is_dir(follow_symlinks=False),
                          entry.is_file(follow_symlinks=False)) for entry in entries)
    for name, is_link, is_dir, is_file in listing:
        relative = prefix / name
        if name.startswith(".") or (is_dir and (name in PROJECT_SKIPPED or name in written_folders())) \
                or (not prefix.parts and name == main_name):
            continue
        if not (is_link or is_dir or is_file):  # a pipe, a socket, a device: not part of a project
            continue
        if is_dir:
            budget[1] -= 1  # folders count too: countless empty ones are no project either
            if budget[1] < 0:
                raise _Refused(f"the folder holds more than {MAX_FOLDER_FILES} files and folders; submit only your "
                               "project (main.py, its templates, static files and data)")
            child = _open_beneath(folder, PurePosixPath(name), directory=True)
            try:
                if _is_virtual_environment(child):
                    continue
                files.update(_read_tree(child, names_of, main_name, relative, budget, top))
            finally:
                os.close(child)
            continue
        fd = _open_beneath(top, relative)  # a link is followed only while it stays beneath the project
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):  # a link to a folder of the project: that folder is read under its own name
            os.close(fd)
            continue
        names_of[_inode(fd)] += 0 if is_link else 1
        budget[0] -= info.st_size
        budget[1] -= 1
        if budget[0] < 0 or budget[1] < 0:
            os.close(fd)
            raise _Refused(f"the folder holds more than {MAX_FOLDER_FILES} files or {MAX_FOLDER_BYTES // 1_000_000} MB; "
                           "submit only your project (main.py, its templates, static files and data)")
        with os.fdopen(fd, "rb") as stream:
            files[str(relative)] = stream.read(info.st_size)
    return files


def _is_virtual_environment(folder: int) -> bool:
    try:
        os.stat("pyvenv.cfg", dir_fd=folder, follow_symlinks=False)
    except OSError:
        return False
    return True


def _inode(fd: int) -> tuple[int, int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino, info.st_nlink


def _open_beneath(root: int, relative: PurePosixPath, directory: bool = False) -> int:
    """Opens `relative` beneath the folder `root` for reading. Every component is looked at before it is
    used (O_PATH, O_NOFOLLOW): a symbolic link is followed by hand, only while its target stays beneath
    `root`; a link out, or a loop, is refused; anything but a folder or a regular file is refused."""
    pending = list(relative.parts)
    stack: list[int] = [os.dup(root)]
    hops = 0
    try:
        while pending:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if len(stack) == 1:
                    raise _Refused(f"{_shown(str(relative))} leads outside the student's folder")
                os.close(stack.pop())
                continue
            fd = os.open(part, os.O_PATH | os.O_NOFOLLOW, dir_fd=stack[-1])
            kind = stat.S_IFMT(os.fstat(fd).st_mode)
            if kind == stat.S_IFLNK:
                os.close(fd)
                target = os.readlink(part, dir_fd=stack[-1])
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise _Refused(f"{_shown(str(relative))} is a loop of symbolic links")
                if target.startswith("/"):
                    raise _Refused(f"{_shown(str(relative))} is a symbolic link to {_shown(target)}, "
                                   "outside the student's folder")
                pending = [*PurePosixPath(target).parts, *pending]
                continue
            stack.append(fd)
            if kind != stat.S_IFDIR and (pending or directory):
                raise _Refused(f"{_shown(str(relative))}: a file stands where a folder should be")
            if kind not in (stat.S_IFDIR, stat.S_IFREG):
                raise _Refused(f"{_shown(str(relative))} is not a regular file")
        found = stack.pop()
        try:
            flags = os.O_RDONLY | (os.O_DIRECTORY if stat.S_ISDIR(os.fstat(found).st_mode) else 0)
            return os.open(f"/proc/self/fd/{found}", flags)  # the very file looked at, now opened to read
        finally:
            os.close(found)
    finally:
        for fd in stack:
            os.close(fd)
