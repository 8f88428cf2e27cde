"""The history store: SQLite chains, steps, groups, threads, its writer thread, recovery."""
