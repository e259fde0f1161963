"""The widgets of conc-tui's panes: they only draw snapshots, never compute them."""
