"""`python -m livedigits` is the `livedigits` command."""

from livedigits.cli import main

main(prog_name="livedigits")
