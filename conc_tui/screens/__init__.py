"""The screens of conc-tui: the help screen."""
