#!/usr/bin/env python3
"""A minimal IoT Hub MQTT device that answers every direct method at once (status 200, the
request's payload echoed): the far end of tools/bench/service_bench.sh's method round trips
without the Node SDK's event loop and garbage collector in the measurement.

    method_device.py HOST PORT DEVICE_ID KEY_BASE64 [HUB_HOSTNAME]

Plain MQTT 3.1.1 (the hub's [listen] mqtt), SAS token as the SDKs make it. Prints "ready" once
subscribed, then answers until the connection ends."""
import base64
import hashlib
import hmac
import socket
import sys
import time
import urllib.parse


def encode_length(n):
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s):
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


def packet(kind, body):
    return bytes([kind]) + encode_length(len(body)) + body


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_packet(sock):
    head = read_exact(sock, 1)[0]
    length, shift = 0, 0
    while True:
        byte = read_exact(sock, 1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return head, read_exact(sock, length)


def main():
    host, port, device, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    hub = sys.argv[5] if len(sys.argv) > 5 else "localhost"
    expiry = int(time.time()) + 3600
    sr = urllib.parse.quote(f"{hub}/devices/{device}", safe="")
    sig = base64.b64encode(hmac.new(base64.b64decode(key), f"{sr}\n{expiry}".encode(),
                                    hashlib.sha256).digest()).decode()
    password = f"SharedAccessSignature sr={sr}&sig={urllib.parse.quote(sig, safe='')}&se={expiry}"
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    variable = utf8("MQTT") + bytes([4, 0xC2]) + (60).to_bytes(2, "big")
    payload = utf8(device) + utf8(f"{hub}/{device}/?api-version=2021-04-12") + utf8(password)
    sock.sendall(packet(0x10, variable + payload))
    head, body = read_packet(sock)
    if head != 0x20 or body[1] != 0:
        sys.exit(f"CONNACK refused: {body!r}")
    sock.sendall(packet(0x82, (1).to_bytes(2, "big") + utf8("$iothub/methods/POST/#") + b"\x00"))
    read_packet(sock)  # SUBACK
    print("ready", flush=True)
    while True:
        try:
            head, body = read_packet(sock)
        except EOFError:
            return
        if head >> 4 != 3:  # only PUBLISH (QoS 0, as the hub sends method requests)
            continue
        n = int.from_bytes(body[:2], "big")
        topic = body[2:2 + n].decode()
        rest = body[2 + n:]
        if (head >> 1) & 3:
            rest = rest[2:]  # a packet id (QoS 1): not used for methods
        rid = topic.split("$rid=")[1].split("&")[0]
        sock.sendall(packet(0x30, utf8(f"$iothub/methods/res/200/?$rid={rid}") + rest))


if __name__ == "__main__":
    main()
