"""Stand-in for ``lmdeploy.serve`` (only what o1tui touches)."""
