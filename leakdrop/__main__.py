"""`python -m leakdrop`: the same command as the installed `leakdrop` entry point.

For a machine where the console script is not on PATH (an offline laptop's venv used
without activating it) and for tests that must run the code of the interpreter they use.
"""

import sys

from leakdrop.cli import main

sys.exit(main())
