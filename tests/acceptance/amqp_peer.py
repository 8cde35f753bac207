#!/usr/bin/python3
"""An independent AMQP 1.0 client for amqp.test.js: Qpid Proton's Python binding (Debian's
python3-qpid-proton; run it with /usr/bin/python3).

Usage: amqp_peer.py SCENARIO < {"port": N, "ca": PATH, ...}   prints one JSON report.

- telemetry: SASL ANONYMOUS, CBS put-token for `device`, then one message on its events link
  with `message_id` (a uuid when it looks like one) and `correlation_id_hex` (binary) ->
  {cbs_status, outcome}.
- refusals: what the hub answers to an unknown address, another device's link, a link without
  a token, an expired token (put-token status and description) and SASL PLAIN with a wrong and
  a right token.
"""

import json
import sys
import uuid

from proton import ConnectionException, Message, SSLDomain, TransportException
from proton.utils import BlockingConnection, LinkDetached, SendException

HOST = "localhost"


def connect(cfg, **kwargs):
    ssl = SSLDomain(SSLDomain.MODE_CLIENT)
    ssl.set_trusted_ca_db(cfg["ca"])
    ssl.set_peer_authentication(SSLDomain.VERIFY_PEER)
    kwargs.setdefault("allowed_mechs", "ANONYMOUS")
    return BlockingConnection("amqps://127.0.0.1:%d" % cfg["port"], timeout=10, ssl_domain=ssl,
                              sasl_enabled=True, **kwargs)


def put_token(conn, device, token):
    replies = conn.create_receiver("$cbs")
    requests = conn.create_sender("$cbs")
    requests.send(Message(id="put-1", reply_to="cbs", body=token, properties={
        "operation": "put-token", "type": "servicebus.windows.net:sastoken",
        "name": "%s%%2Fdevices%%2F%s" % (HOST, device)}))
    reply = replies.receive(timeout=10)
    replies.accept()
    assert reply.correlation_id == "put-1", reply.correlation_id
    return reply.properties["status-code"], reply.properties["status-description"]


def events(device):
    return "/devices/%s/messages/events" % device


def send_one(conn, device, message):
    sender = conn.create_sender(events(device))
    try:
        sender.send(message, timeout=10)
        return "accepted"
    except SendException as e:
        return "refused: %s" % e.state


def detach_condition(conn, address):
    try:
        sender = conn.create_sender(address)
        sender.send(Message(body="x"), timeout=10)
        return "opened"
    except LinkDetached as e:
        cond = e.link.remote_condition
        return cond.name if cond else "detached"


def as_id(text):
    try:
        return uuid.UUID(text)
    except (ValueError, TypeError):
        return text


def telemetry(cfg):
    conn = connect(cfg)
    status, _ = put_token(conn, cfg["device"], cfg["token"])
    msg = Message(body=b'{"via":"proton"}', id=as_id(cfg["message_id"]))
    if cfg.get("correlation_id_hex"):
        msg.correlation_id = bytes.fromhex(cfg["correlation_id_hex"])
    outcome = send_one(conn, cfg["device"], msg)
    conn.close()
    return {"cbs_status": status, "outcome": outcome}


def refusals(cfg):
    out = {}
    conn = connect(cfg)
    put_token(conn, cfg["device"], cfg["token"])
    out["unknown_address"] = detach_condition(conn, "/devices/%s/no/such/node" % cfg["device"])
    out["other_device"] = detach_condition(conn, events("dev2"))
    conn.close()

    conn = connect(cfg)
    out["no_token"] = detach_condition(conn, events(cfg["device"]))
    status, description = put_token(conn, cfg["device"], cfg["expired"])
    out["expired_status"], out["expired_description"] = status, description
    conn.close()

    user = "%s@sas.%s" % (cfg["device"], HOST)
    try:
        conn = connect(cfg, allowed_mechs="PLAIN", user=user, password=cfg["expired"])
        conn.create_sender(events(cfg["device"]))
        out["bad_plain"] = "opened"
        conn.close()
    except (ConnectionException, TransportException, LinkDetached):
        out["bad_plain"] = "refused"
    conn = connect(cfg, allowed_mechs="PLAIN", user=user, password=cfg["token"])
    out["good_plain"] = send_one(conn, cfg["device"], Message(body="plain"))
    conn.close()
    return out


def module_input(cfg):
    """A module (`module`, on edge device `device`) receives one input message over AMQP and
    accepts it; reports its body, ids and IoT Hub's annotations."""
    conn = connect(cfg)
    replies = conn.create_receiver("$cbs")
    requests = conn.create_sender("$cbs")
    requests.send(Message(id="put-m", reply_to="cbs", body=cfg["token"], properties={
        "operation": "put-token", "type": "servicebus.windows.net:sastoken",
        "name": "%s%%2Fdevices%%2F%s%%2Fmodules%%2F%s" % (HOST, cfg["device"], cfg["module"])}))
    reply = replies.receive(timeout=10)
    replies.accept()
    inputs = conn.create_receiver("/devices/%s/modules/%s/messages/events" % (cfg["device"], cfg["module"]))
    print("attached", file=sys.stderr, flush=True)
    with open(cfg["ready_file"], "w") as f:
        f.write("ready")
    msg = inputs.receive(timeout=20)
    inputs.accept()
    ann = {str(k): (str(v) if not isinstance(v, (int, float)) else v)
           for k, v in (msg.annotations or {}).items()}
    body = msg.body if isinstance(msg.body, (bytes, bytearray)) else str(msg.body).encode()
    out = {"cbs_status": reply.properties["status-code"], "body": body.decode("utf-8", "replace"),
           "message_id": str(msg.id), "correlation_id": str(msg.correlation_id),
           "annotations": ann, "properties": {str(k): str(v) for k, v in (msg.properties or {}).items()}}
    conn.close()
    return out


def main():
    cfg = json.load(sys.stdin)
    scenario = {"telemetry": telemetry, "refusals": refusals, "input": module_input}[sys.argv[1]]
    print(json.dumps(scenario(cfg)))


if __name__ == "__main__":
    main()
