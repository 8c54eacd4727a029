"""`alfred`: the kit's assistant for instructors. `alfred grade` grades one submission or a whole class.

    alfred grade                      grade the bundled demo class (works on a fresh install)
    alfred grade class/               one subfolder or .py file per student; the name is the student id
    alfred grade alice/ bob.py        single submissions
    alfred grade class/ --shard I/N   one shard of a class (a Kubernetes Indexed Job's pod, say)
    alfred merge OUT_0 OUT_1 ...      one class's reports from its shards' --out folders
    alfred handout DIR                the project students receive (no solutions, no grader)
    alfred bundle gradescope          autograder.zip for Gradescope (setup.sh, run_autograder, the kit)
    alfred bundle prairielearn        a PrairieLearn question folder (info.json, question.html, tests/, image/)
    alfred hint [EXERCISE]            for students: the next hint of the first exercise not done yet
Options: --out DIR, --json, --jobs N, --student NAME, --force, --format FORMAT (exercism, prairielearn, canvas,
moodle, junit), --roster FILE, --hidden-seed N, --no-sandbox. Errors are one sentence on stderr and exit code 2; a
finished run exits 0, whatever the students scored.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from alfred.grading.discovery import GradeError, discover
from alfred.course.exercises import LESSON
from alfred.grading.classroom import grade_class, merge, shard_of
from alfred.handout import HandoutError, write_handout
from alfred.judge.hidden import SeedError, parse_seed
from alfred.hint import add_arguments as add_hint_arguments, run as hint
from alfred.reports import DEFAULT_FORMATS, FORMATS, ROSTERED, roster as rosters
from alfred.sandbox.fork_server import SandboxUnavailable, sandbox_mode
from alfred.course.targets import KIT_ROOT, MAIN_CANDIDATES, RUBRIC_FILE
from alfred.grading.review import review_costs_points
from alfred.watch import add_arguments as add_watch_arguments, run as watch

DEMO_CLASS = KIT_ROOT / "demo_class"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alfred", description=f"Alfred's kit for {LESSON.name}"
                                     + (f" ({LESSON.subject})" if LESSON.subject else "")
                                     + ": grade its homework, and help students with it.")
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade submissions and write a gradebook")
    grade.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="a student's .py file or folder, or a class folder (default: the demo class)")
    grade.add_argument("--out", type=Path, default=Path("grades"), help="where reports go (default: grades/)")
    grade.add_argument("--json", action="store_true", help="also print one JSON line per submission on stdout")
    grade.add_argument("--jobs", type=_positive, default=os.cpu_count() or 1,
                       help="submissions graded in parallel (default: the number of cores)")
    grade.add_argument("--student", metavar="NAME", help="regrade only this student")
    grade.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    grade.add_argument("--format", action="append", default=[], choices=sorted(set(FORMATS) - set(DEFAULT_FORMATS)),
                       dest="formats", help=FORMAT_HELP)
    grade.add_argument("--roster", type=_roster, metavar="FILE", help=ROSTER_HELP)
    grade.add_argument("--shard", type=_shard, metavar="I/N",
                       help="grade only shard I of N (I from 0 to N-1; each student always falls in the same shard)")
    grade.add_argument("--hidden-seed", type=_seed, metavar="N",
                       help="draw the hidden checks' inputs with seed N (default: the seed recorded in --out by an "
                       "earlier run, else a fresh one; summary.md records it)")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run student code without bubblewrap: only for code you trust; results are marked")
    handout = commands.add_parser("handout", help="write the project students receive: exercises, visible tests, "
                                  "plugin, README, GitHub Classroom workflow; no solutions")
    handout.add_argument("destination", type=Path, metavar="DIR", help="a new or empty folder")
    bundle = commands.add_parser("bundle", help="build a grading platform's bundle: gradescope -> autograder.zip, "
                                 "prairielearn -> a question folder")
    bundle.add_argument("platform", choices=["gradescope", "prairielearn"])
    bundle.add_argument("--out", type=Path, help="the file to write (gradescope, default: autograder.zip) or the new "
                        "question folder (prairielearn, default: alfred_<lesson folder>)")
    bundle.add_argument("--image", metavar="NAME", help="prairielearn: the grading image's name on Docker Hub, "
                        "built from the question's image/Containerfile")
    merge = commands.add_parser("merge", help="build one class's reports from the --out folders of its shards")
    merge.add_argument("shards", nargs="+", type=Path, metavar="SHARD_OUT", help="the --out folder of each shard")
    merge.add_argument("--out", type=Path, default=Path("grades"), help="where the class's reports go")
    merge.add_argument("--format", action="append", default=[], choices=sorted(set(FORMATS) - set(DEFAULT_FORMATS)),
                       dest="formats", help=FORMAT_HELP)
    merge.add_argument("--roster", type=_roster, metavar="FILE", help=ROSTER_HELP)
    watching = commands.add_parser("watch", help="for students: run `pytest exercises` now and again each time "
                                   "your file is saved (Ctrl-C to stop)")
    add_watch_arguments(watching)
    hinting = commands.add_parser("hint", help="for students: the next hint for the first exercise not done yet "
                                  "(or EXERCISE), one at a time")
    add_hint_arguments(hinting)
    return parser


FORMAT_HELP = ("also write this report format: exercism (results.json, interface 3), prairielearn (results.json of "
               "PrairieLearn's external grading), canvas (canvas.csv), moodle (moodle.csv), junit (junit/<name>.xml)")
ROSTER_HELP = ("for --format canvas and moodle: a CSV with a `folder` column naming each student's folder and the "
               "LMS's identifiers (docs/gradebooks.md)")


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not I/N, such as 0/4") from None
    if not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        raise argparse.ArgumentTypeError(f"'{text}': I must be from 0 to N-1") from None
    return shard


def _seed(text: str) -> int:
    try:
        return parse_seed(text, "--hidden-seed")
    except SeedError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # as `timeout`, CI and Kubernetes stop a run
    try:
        return COMMANDS[args.command](args)
    except (GradeError, SandboxUnavailable, HandoutError) as exc:
        print(f"alfred: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("alfred: interrupted; finished results are kept, run the same command to resume.", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _check_out(out: Path) -> None:
    """--out must be a folder the grader can make (in a folder that exists) and write: else one line,
    before any grading."""
    if out.exists() and not out.is_dir():
        raise GradeError(f"--out {out} is a file; give a folder for the reports.")
    parent = out.absolute().parent
    if not parent.exists():
        raise GradeError(f"--out {out}: the folder {parent} does not exist; create it or choose another --out.")
    if not parent.is_dir():
        raise GradeError(f"--out {out}: {parent} is not a folder; choose another --out.")
    place = out if out.exists() else parent
    if not os.access(place, os.W_OK | os.X_OK):
        raise GradeError(f"--out {out}: cannot write in {place}; choose a folder you can write to.")


def _handout(args: argparse.Namespace) -> int:
    written = write_handout(args.destination)
    print(f"alfred: the handout is in {args.destination}/ ({len(written)} files); hand out that folder, for "
          "example as a GitHub Classroom template repository.", file=sys.stderr)
    return 0


def _bundle(args: argparse.Namespace) -> int:
    if args.platform == "prairielearn":
        return _bundle_prairielearn(args)
    from alfred.grading.gradescope import bundle

    out = args.out or Path("autograder.zip")
    _check_out(out)
    print(f"alfred: {bundle(out)}: upload it as the assignment's autograder (docs/gradescope.md).", file=sys.stderr)
    return 0


def _bundle_prairielearn(args: argparse.Namespace) -> int:
    from alfred.grading.prairielearn import DEFAULT_IMAGE, bundle

    out = args.out or Path(f"alfred_{LESSON.folder}")
    _check_out(out)
    bundle(out, args.image or DEFAULT_IMAGE)
    image = (f"build {out / 'image' / 'Containerfile'} and push it to Docker Hub, then give its name with --image "
             "(or as \"image\" in info.json)") if not args.image else f"push the image {args.image} from {out / 'image'}"
    print(f"alfred: {out}/ is the PrairieLearn question: put it in your course's questions/ folder; {image} "
          "(docs/prairielearn.md).", file=sys.stderr)
    return 0


def _roster(text: str) -> rosters.Roster:
    """The --roster file, read as the command line is: a bad roster stops the run before any grading."""
    try:
        return rosters.read(Path(text))
    except rosters.RosterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _tell_left_out(rows: list, formats: list[str], roster: rosters.Roster | None) -> None:
    """Names the students an LMS's file leaves out (the roster does not name them), so none goes missing unseen."""
    if roster is not None and not ROSTERED.intersection(formats):
        print(f"alfred: --roster is read by {' and '.join(f'--format {name}' for name in sorted(ROSTERED))} "
              "only; no report used it.", file=sys.stderr)
    for name in sorted(ROSTERED.intersection(formats)):
        left = FORMATS[name].left_out(rows, roster)
        if left:
            print(f"alfred: left out of {name}.csv, the roster names no account for them: {', '.join(left)}",
                  file=sys.stderr)


def _written(out: Path) -> str:
    """Where a teacher finds the class's results, named after grading and after a merge."""
    return (f"gradebook in {out / 'gradebook.csv'}, summary in {out / 'summary.md'}, "
            f"class report in {out / 'report.html'}")


def _merge(args: argparse.Namespace) -> int:
    _check_out(args.out)
    rows = merge(args.shards, args.out, formats=(*DEFAULT_FORMATS, *dict.fromkeys(args.formats)), roster=args.roster)
    _tell_left_out(rows, args.formats, args.roster)
    print(f"alfred: merged {len(rows)} student{'s' * (len(rows) != 1)} from {len(args.shards)} "
          f"shard{'s' * (len(args.shards) != 1)}; {_written(args.out)}", file=sys.stderr)
    return 0


def _grade(args: argparse.Namespace) -> int:
    _check_out(args.out)
    paths = args.paths or [DEMO_CLASS]
    found = discover(paths, exclude=(args.out,), main_candidates=MAIN_CANDIDATES)
    entries = found.entries
    if args.shard:
        index, count = args.shard
        entries = [entry for entry in entries if shard_of(entry.student, count) == index]
    for line in found.skipped:
        print(f"alfred: skipped {line}", file=sys.stderr)
    if args.student and not any(args.student in (entry.student, entry.slug) for entry in entries):
        raise GradeError(f"No submission named {args.student!r} among the paths given.")
    review_costs_points(RUBRIC_FILE)  # a bad setting stops the run here, not in every grading process
    if not args.no_sandbox:
        mode = sandbox_mode()
        if mode.gives_up:
            print(f"alfred: {mode.gives_up}. As root, each sandbox's students get a uid of their own.", file=sys.stderr)
    progress = _Progress(1 if args.student else len(entries), args.json)
    hidden = tuple(path.resolve() for path in paths)
    rows = grade_class(entries, args.out, args.jobs, sandboxed=not args.no_sandbox, force=args.force,
                       on_result=progress.update, only=args.student, hidden=hidden,
                       formats=(*DEFAULT_FORMATS, *dict.fromkeys(args.formats)), hidden_seed=args.hidden_seed,
                       roster=args.roster)
    progress.close()
    _tell_left_out(rows, args.formats, args.roster)
    graded = sum(row["status"] == "graded" for row in rows)
    shard = f" (shard {args.shard[0]} of {args.shard[1]}: merge the shards with `alfred merge`)" if args.shard else ""
    print(f"alfred: {len(rows)} submission{'s' * (len(rows) != 1)}, {graded} graded{shard}; {_written(args.out)}",
          file=sys.stderr)
    seeds = sorted({row["hidden_seed"] for row in rows if "hidden_seed" in row})
    if seeds:
        print(f"alfred: hidden checks drawn with seed {', '.join(map(str, seeds))} (`--hidden-seed "
              f"{seeds[0]}` draws the same inputs again)", file=sys.stderr)
    return 0


COMMANDS = {"grade": _grade, "merge": _merge, "handout": _handout, "bundle": _bundle, "hint": hint, "watch": watch}


class _Progress:
    """A progress bar on a terminal; one plain line per student when piped or in CI."""

    def __init__(self, total: int, json_lines: bool):
        self.json_lines = json_lines
        self.bar = None
        if sys.stderr.isatty() and not os.environ.get("CI"):
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="student", file=sys.stderr)

    def update(self, row: dict, cached: bool = False) -> None:
        if self.json_lines:
            print(json.dumps({key: row[key] for key in ("student", "status", "score", "max_score", "exercises",
                                                        "flags", "message", "hidden_seed") if key in row}),
                  flush=True)
        line = f"{row['student']}: {row['status']}, {row['score']:g}/{row['max_score']:g}" + (" (unchanged)" if cached else "")
        if self.bar is not None:
            self.bar.set_postfix_str(line[:40])
            self.bar.update(1)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
