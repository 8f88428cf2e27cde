"""Everything that talks to a model: clients, server supervision, engines, presets."""

#: Marks this package as o1tui's own: ``tui`` checks it at import (the name is generic).
O1TUI_PART = True
