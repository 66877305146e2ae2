"""The citylab dashboard: a FastAPI app that reads the store and shows it live.

Data flows one way, recorder -> store -> dashboard; nothing here writes.

    from dashboard import create_app, DashboardServer

    app = create_app(SQLiteStore("run.db"))          # for any ASGI server
    with DashboardServer(store, port=8000) as server:  # or in a thread
        print(server.url)
"""

from dashboard.app import create_app
from dashboard.server import DashboardServer

__all__ = ["DashboardServer", "create_app"]
