"""Models: how a workload's tasks are run — serially, in processes, threads or on a loop.

No Textual here. Every model reports each worker's states through a recorder.
"""
