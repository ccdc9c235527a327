"""DynamoDB served locally at the wire: moto in server mode on 127.0.0.1 (a free port).

moto's server handles requests on several threads but does not serialize writes to one item;
DynamoDB does (PutItem, GetItem, UpdateItem and DeleteItem "are atomic": DynamoDB Developer Guide,
"Working with items and attributes").  :class:`SerializedMotoServer` gives moto that
property by handling one DynamoDB request at a time, while the gateway's requests still arrive
concurrently over HTTP.  Nothing else about the API is changed: the gateway's unmodified boto3
client talks to it through ``AWS_ENDPOINT_URL_DYNAMODB``.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Serialized:
    """WSGI middleware: one request at a time (DynamoDB's per-item atomicity, coarser)."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        with self._lock:
            return list(self._app(environ, start_response))


class SerializedMotoServer(ThreadedMotoServer):
    """A :class:`ThreadedMotoServer` whose requests are applied one at a time."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1", free_port(), verbose=False)

    def _server_entry(self) -> None:
        app = _Serialized(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"


def create_governance_table(client: Any, name: str) -> None:
    """The table the construct creates: pk/sk strings, on-demand, TTL on ``expires_at``."""
    client.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
