"""o1tui: o1-like reasoning chains from local 7-8B models, in the terminal.

The package holds the reasoning core, the history store, config and the headless CLI;
only ``tui.app`` imports Textual.
"""

__version__ = "0.1.0"
