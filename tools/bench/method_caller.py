#!/usr/bin/env python3
"""Direct method calls from a module of the edge device through the hub's HTTPS API, as
ModuleClient.invokeMethod makes them (x-ms-edge-moduleId and the module's own SAS, on one
kept-alive TLS connection as Node 20's agent keeps it), but without Node: the product's path (HTTPS API -> method router ->
the device's MQTT session -> back) with little of the caller in the figure.

    method_caller.py HTTPS_PORT CA_FILE EDGE_ID MODULE_ID MODULE_KEY DEVICE_ID [CALLS]

Prints one JSON line: {"calls", "p50_ms", "p99_ms", "max_ms", "failed"}."""
import base64
import hashlib
import hmac
import http.client
import json
import socket
import ssl
import sys
import time
import urllib.parse


def main():
    port, ca, edge, module, key, device = sys.argv[1:7]
    calls = int(sys.argv[7]) if len(sys.argv) > 7 else 1000
    expiry = int(time.time()) + 3600
    sr = urllib.parse.quote(f"localhost/devices/{edge}/modules/{module}", safe="")
    sig = base64.b64encode(hmac.new(base64.b64decode(key), f"{sr}\n{expiry}".encode(),
                                    hashlib.sha256).digest()).decode()
    headers = {
        "Authorization": f"SharedAccessSignature sr={sr}&sig={urllib.parse.quote(sig, safe='')}&se={expiry}",
        "x-ms-edge-moduleId": f"{edge}/{module}",
        "Content-Type": "application/json",
    }
    context = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=context)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times, failed = [], 0
    for i in range(calls):
        body = json.dumps({"methodName": "echo", "payload": {"i": i},
                           "responseTimeoutInSeconds": 5, "connectTimeoutInSeconds": 0})
        t0 = time.perf_counter()
        conn.request("POST", f"/twins/{device}/methods", body, headers)
        r = conn.getresponse()
        data = r.read()
        times.append((time.perf_counter() - t0) * 1000)
        if r.status != 200 or json.loads(data).get("payload", {}).get("i") != i:
            failed += 1
    times.sort()
    at = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(json.dumps({"calls": calls, "p50_ms": round(at(0.5), 3), "p99_ms": round(at(0.99), 3),
                      "max_ms": round(times[-1], 3), "failed": failed}))


if __name__ == "__main__":
    main()
