"""Workloads: what one task is, independent of how tasks are run. No Textual here."""
