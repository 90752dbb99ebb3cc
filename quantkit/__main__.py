"""``python -m quantkit ...``: the same as the ``quantkit`` command.

Usage: ``python -m quantkit backtest --json``
"""

from quantkit.cli.main import main

main()
