"""A real WebSub hub and a real subscriber on loopback, for the end-to-end test.

Run as a child process: ``python websub_peers.py FOLDER``. Both are flask-websub's own
code, each a Flask app behind its own threaded werkzeug server on a free 127.0.0.1 port:

- the hub (``/hub``), with publishing turned on, its celery tasks run eagerly (in the
  request's thread, no broker needed) and its subscriptions in SQLite;
- a subscriber (callbacks under ``/callbacks/``), which finds a feed's hub and topic the
  way subscribers do (the feed's ``Link`` header), subscribes, answers the hub's
  verification, and writes each content notification's body to ``FOLDER/delivered/``.

``GET /subscribe?url=FEED_URL`` on the subscriber subscribes to that feed and answers
once the hub has verified the subscription. When both listen, their ports are written to
``FOLDER/ports.json``. Stopped by SIGTERM.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from celery import Celery
from flask import Flask, request
from flask_websub.hub import Hub, SQLite3HubStorage
from flask_websub.subscriber import (
    SQLite3SubscriberStorage,
    SQLite3TempSubscriberStorage,
    Subscriber,
    discover,
)
from werkzeug.serving import make_server


def hub_app(folder: Path) -> Flask:
    app = Flask("websub-hub")
    app.config["PUBLISH_SUPPORTED"] = True
    celery = Celery("websub-hub", broker="memory://")
    celery.conf.task_always_eager = True
    # A failing task answers the request with 500 instead of vanishing.
    celery.conf.task_eager_propagates = True
    hub = Hub(SQLite3HubStorage(str(folder / "hub.db")), celery, REQUEST_TIMEOUT=10)
    app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))
    return app


def subscriber_app(folder: Path) -> Flask:
    app = Flask("websub-subscriber")
    database = str(folder / "subscriber.db")
    subscriber = Subscriber(
        SQLite3SubscriberStorage(database),
        SQLite3TempSubscriberStorage(database),
        REQUEST_TIMEOUT=10,
    )
    app.register_blueprint(subscriber.build_blueprint(url_prefix="/callbacks"))
    delivered = folder / "delivered"
    delivered.mkdir(exist_ok=True)
    lock = threading.Lock()

    @subscriber.add_listener
    def on_notification(topic_url: str, callback_id: str, body: bytes) -> None:
        with lock:
            number = len(list(delivered.glob("*.json"))) + 1
            record = {"topic": topic_url, "body": body.decode("utf-8")}
            part = delivered / f".{number}.tmp"
            part.write_text(json.dumps(record), encoding="utf-8")
            part.rename(delivered / f"{number}.json")

    @app.get("/subscribe")
    def subscribe() -> tuple[str, int]:
        found = discover(request.args["url"], timeout=10)
        return subscriber.subscribe(**found), 202

    return app


def main() -> None:
    folder = Path(sys.argv[1])
    servers = [
        make_server("127.0.0.1", 0, hub_app(folder), threaded=True),
        make_server("127.0.0.1", 0, subscriber_app(folder), threaded=True),
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports = {"hub": servers[0].server_port, "subscriber": servers[1].server_port}
    part = folder / ".ports.tmp"
    part.write_text(json.dumps(ports), encoding="utf-8")
    part.rename(folder / "ports.json")
    threading.Event().wait()


if __name__ == "__main__":
    main()
