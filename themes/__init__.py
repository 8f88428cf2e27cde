"""o1tui's theme files (TOML data); the package exists so the wheel ships them."""

#: Marks this package as o1tui's own: ``tui`` checks it at import (the name is generic).
O1TUI_PART = True
