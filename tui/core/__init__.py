"""The core: chains, strategies, the runner, groups, threads, answer reading, settings."""
