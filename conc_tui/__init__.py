"""conc-tui: see Python's three concurrency models run real work."""

__version__ = "0.1.0"
