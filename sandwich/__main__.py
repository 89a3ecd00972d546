"""`python -m sandwich` runs the CLI."""

from sandwich.cli import main

main()
