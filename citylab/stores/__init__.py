"""Where the recorder writes and graders and the dashboard read.

SQLite is the embedded default (``citylab.stores.sqlite``); InfluxDB joins it
in its own module with the same reading interface.
"""

from citylab.stores.sqlite import Batch, DeadLetter, SQLiteStore

__all__ = ["Batch", "DeadLetter", "SQLiteStore"]
