"""``python -m tui.cli``: the ``o1tui`` command."""

import sys

from tui.cli.entry import main

sys.exit(main())
