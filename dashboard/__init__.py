"""The citylab dashboard: a FastAPI app that shows the city live, runs gradings and keeps the gradebook.

Data flows one way, recorder -> store -> dashboard: the dashboard reads the
store (and the gradebook); the one thing it starts is a grading, on request.

    from dashboard import create_app, DashboardServer

    app = create_app(SQLiteStore("run.db"))          # for any ASGI server
    with DashboardServer(store, port=8000, city="default", site="demo",
                         gradebook_path="gradebook.sqlite") as server:   # or in a thread
        print(server.url)

Python modules: ``app`` (build the app), ``deps`` (typed dependencies),
``models`` (the API's shapes), ``routes/`` (one file per resource),
``live_hub`` (one store poller for every live stream), ``citymap`` (the one
reader of city files), ``series`` (chart buckets), ``replay`` (the map at a
past moment), ``runs`` (gradings started from the page), ``grades`` (the
gradebook for instructors), ``instructions`` (lab markdown as HTML),
``server`` (uvicorn in a thread); classroom mode (``create_app(...,
classroom=...)``): ``gate`` (the middleware in front of every route),
``access`` (who may call which route), ``sessions`` (login sessions in
SQLite), ``ratelimit``, ``login_page``. The page is ``static/``: plain ES modules,
no build step, every user-facing string in ``static/js/strings.js``.
"""

from dashboard.app import create_app
from dashboard.server import DashboardServer

__all__ = ["DashboardServer", "create_app"]
