"""``python -m bot.cli``: the same command line as the ``coach`` entry point."""

from bot.cli import main

main()
