"""Builds a synthetic class for benchmarks: N students drawn in turn from the kit's corpora, renamed.

    python benchmarks/make_class.py OUT_DIR [--students 200]

The mix follows the corpora (correct, wrong, broken), so a class has the spread of a real one.
"""

import argparse
import shutil
from itertools import cycle
from pathlib import Path

from alfred.grading import corpus


def make_class(out: Path, students: int) -> list[Path]:
    samples = [sample.path for kind in ("correct", "wrong", "broken") for sample in corpus.load(kind)]
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    made = []
    for number, source in zip(range(1, students + 1), cycle(samples)):
        if source.is_dir():  # a project folder: the student's folder
            target = out / f"student_{number:03d}"
            shutil.copytree(source, target)
        else:
            target = out / f"student_{number:03d}.py"
            shutil.copy(source, target)
        made.append(target)
    return made


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--students", type=int, default=200)
    args = parser.parse_args()
    print(f"{len(make_class(args.out, args.students))} students in {args.out}")
