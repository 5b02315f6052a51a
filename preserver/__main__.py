"""``python -m preserver`` is the ``preserver`` command."""

from preserver.cli import main

main()
