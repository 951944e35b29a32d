"""``python -m amp``: the `amp` command."""

import sys

from .cli import main

sys.exit(main())
