"""``python -m ftcot``: the command line."""

from ftcot.cli import main

raise SystemExit(main())
