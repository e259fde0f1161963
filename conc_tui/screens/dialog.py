"""What every screen over the panes shares: a framed box in the middle, q to quit."""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import ModalScreen


class Dialog(ModalScreen[None]):
    """A modal screen whose one child is a framed box in the middle of the terminal.

    Modal screens hide the app's own bindings, so quitting is bound again here; and once
    the app is quitting, none of the screen's own actions runs (a race or comparison
    started then would outlive it). Subclasses size the box and add their bindings.
    """

    BINDINGS = [Binding("q", "app.quit", "Quit")]

    DEFAULT_CSS = """
    Dialog {
        align: center middle;
    }
    Dialog > * {
        border: thick $accent;
        background: $surface;
    }
    """

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Nothing of this screen's runs once the app is quitting."""
        return not getattr(self.app, "closing", False)
