"""The trade-offs as real experiments: races, deadlocks, a blocked loop, process costs.

No Textual here: the CLI's ``demo`` command and the app's hazard screen both run these.
"""
