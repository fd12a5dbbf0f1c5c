"""`python -m leakdrop`: the same command as the installed `leakdrop` entry point.

For a machine where the console script is not on PATH (an offline laptop's venv used
without activating it) and for tests that must run the code of the interpreter they use.
"""

from leakdrop.cli import console_main

console_main()
