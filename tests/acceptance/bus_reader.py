#!/usr/bin/python3
"""Reads a RabbitMQ node over AMQP 1.0 with Qpid Proton's Python client (Debian's
python3-qpid-proton; run it with /usr/bin/python3), for bus_endpoint.test.js.

Usage: bus_reader.py URL ADDRESS IDLE_SECONDS
Prints one JSON object per message ({body, properties, annotations, durable}), accepting each,
until IDLE_SECONDS pass without one.
"""

import json
import sys

from proton import Terminus, Timeout
from proton.reactor import LinkOption
from proton.utils import BlockingConnection


class DurableSource(LinkOption):
    """RabbitMQ declares the node with the link's durability: the hub's sender made the queue
    durable, so the reader must ask for the same or be refused."""

    def apply(self, link):
        link.source.durability = Terminus.CONFIGURATION


def text(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8", "replace")
    return str(v)


def main():
    url, address, idle = sys.argv[1], sys.argv[2], float(sys.argv[3])
    conn = BlockingConnection(url, timeout=30, allowed_mechs="PLAIN")
    receiver = conn.create_receiver(address, credit=500, options=DurableSource())
    while True:
        try:
            m = receiver.receive(timeout=idle)
        except Timeout:
            break
        print(json.dumps({
            "body": text(m.body),
            "properties": {str(k): text(v) for k, v in (m.properties or {}).items()},
            "annotations": {str(k): text(v) for k, v in (m.annotations or {}).items()},
            "durable": bool(m.durable),
            "id": text(m.id) if m.id is not None else None,
            "content_type": text(m.content_type) if m.content_type else None,
        }))
        receiver.accept()
    conn.close()


if __name__ == "__main__":
    main()
