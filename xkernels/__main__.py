"""``python -m xkernels``: the command line (see :mod:`xkernels.cli`)."""

import sys

from xkernels.app.cli import main

sys.exit(main())
