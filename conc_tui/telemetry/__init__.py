"""Telemetry: what every worker is doing, measured, batched and folded into snapshots.

Nothing in this package imports Textual; the app only draws the snapshots it makes.
"""
