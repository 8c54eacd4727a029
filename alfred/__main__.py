"""`python -m alfred` and the `alfred` command: `alfred.cli`, behind a one-line error for a bad lesson file.

The kit's modules read the lesson (its lesson.toml) when they are imported; a mistake in that file is told
in one line naming the file and the key, with exit code 2, as every other usage error of `alfred`.
"""

from __future__ import annotations

import sys

from alfred.course.lesson import told_in_one_line


def main(argv: list[str] | None = None) -> int:
    with told_in_one_line():
        from alfred.cli import main as cli_main
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
