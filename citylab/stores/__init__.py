"""Where the recorder writes and graders and the dashboard read.

- ``sqlite``: the embedded default (readings, statuses, commands, dead letters);
- ``influx_v1`` / ``influx_v2``: InfluxDB 1.x and 2.x/3.x, the schema in ``influx_schema``;
- ``reading``: the interface they share (``Store``, ``ReadingStore``);
- ``spool``: the disk journal the recorder writes before it acknowledges a message;
- ``url``: a store named by a URL (``open_store``).
"""

from citylab.stores.reading import ReadingStore, Store
from citylab.stores.sqlite import Batch, DeadLetter, SQLiteStore
from citylab.stores.url import StoreURL, open_store

__all__ = ["Batch", "DeadLetter", "ReadingStore", "SQLiteStore", "Store", "StoreURL", "open_store"]
