"""Remote engines in the window: the saved engines (prefs + keychain), the Engines dialog with
"Test connection", and the model panel's Engine row."""

from app.remote.dialog import EnginesDialog
from app.remote.engine_row import EngineRow
from app.remote.local_note import LocalOnlyNote, remote_name
from app.remote.saved import THIS_COMPUTER, EngineBook, SavedEngine

__all__ = ["THIS_COMPUTER", "EngineBook", "EngineRow", "EnginesDialog", "LocalOnlyNote",
           "SavedEngine", "remote_name"]
