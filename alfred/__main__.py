"""`python -m alfred` is the `alfred` command."""

import sys

from alfred.cli import main

sys.exit(main())
