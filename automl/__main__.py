"""``python -m automl``: the command line with this interpreter, for child processes (local workers, sweep runs)
that must run in the parent's environment wherever the console script was installed."""

import sys

from automl.cli import main

sys.exit(main())
