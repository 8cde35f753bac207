#!/usr/bin/env python3
"""Writes the seed corpora of mqtt_session_fuzz (corpus/mqtt_session/) and iothub_dialect_fuzz
(corpus/iothub_dialect/), one binary file per seed, in the input formats their headers describe.
Re-run after changing the lists; files found by fuzzing (merged corpora, crash-<what>) are added
next to these and are not touched by this script.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def s16(text):
    data = text.encode() if isinstance(text, str) else text
    return len(data).to_bytes(2, "big") + data


def frame(first, body):
    out = bytearray([first])
    n = len(body)
    while True:
        digit = n & 0x7F
        n >>= 7
        out.append(digit | 0x80 if n else digit)
        if not n:
            return bytes(out) + body


def connect(client_id, keepalive=60, clean=True, user=None, password=None):
    flags = (0x02 if clean else 0) | (0x80 if user is not None else 0) | (
        0x40 if password is not None else 0)
    body = s16("MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big") + s16(client_id)
    if user is not None:
        body += s16(user)
    if password is not None:
        body += s16(password)
    return frame(0x10, body)


def publish(topic, packet_id=None, payload=b"{}"):
    qos = 1 if packet_id is not None else 0
    body = s16(topic) + (packet_id.to_bytes(2, "big") if packet_id is not None else b"") + payload
    return frame(0x30 | qos << 1, body)


def subscribe(packet_id, *filters):
    body = packet_id.to_bytes(2, "big")
    for f in filters:
        body += s16(f) + bytes([1])
    return frame(0x82, body)


def unsubscribe(packet_id, *filters):
    body = packet_id.to_bytes(2, "big")
    for f in filters:
        body += s16(f)
    return frame(0xA2, body)


def puback(packet_id):
    return frame(0x40, packet_id.to_bytes(2, "big"))


# mqtt_session_fuzz: 4 limit bytes (max_subscriptions % 9, 1 + inflight % 8, keepalive cap
# 1 + 3 * b s, connect timeout 1000 + 100 * b ms), then steps: opcode % 16 = 0..2 frame,
# 3 accept/refuse, 4 persisted, 5 publish_out, 6 tick, 7 take_over, 8 end, 9 restore,
# 10 policy, 11 connect, 12 publish, 13 subscribe, 14 unsubscribe, 15 puback/pingreq.
LIMITS = bytes([3, 2, 20, 50])
FRAME, DECIDE, PERSISTED, OUT, TICK, TAKE_OVER, END, RESTORE, POLICY = range(9)
SESSION = {
    "connect_accept": LIMITS + bytes([FRAME]) + connect("dev/mod") + bytes([DECIDE, 0]),
    "connect_refuse": LIMITS + bytes([FRAME]) + connect("dev") + bytes([DECIDE, 1, 4]),
    "keepalive_zero_tick": LIMITS + bytes([FRAME]) + connect("dev", keepalive=0)
    + bytes([DECIDE, 0, TICK | 0xF0, 255, TICK | 0xF0, 255, TICK | 0xF0, 255]),
    "connect_timeout": LIMITS + bytes([TICK | 0x10, 0]),
    "not_connect_first": LIMITS + bytes([FRAME]) + publish("devices/d/messages/events/"),
    "pipelined_before_connack": LIMITS + bytes([FRAME]) + connect("dev") + bytes([FRAME])
    + publish("a", 1),
    "qos1_in_order": LIMITS + bytes([FRAME]) + connect("dev") + bytes([DECIDE, 0, FRAME])
    + publish("devices/dev/messages/events/", 1) + bytes([FRAME])
    + publish("devices/dev/messages/events/", 2) + bytes([FRAME])
    + publish("devices/dev/messages/events/", 1) + bytes([PERSISTED, 1, PERSISTED, 0]),
    "publish_out_ack": LIMITS + bytes([FRAME]) + connect("dev") + bytes([DECIDE, 0, OUT, OUT, OUT])
    + bytes([FRAME]) + puback(1) + bytes([OUT, FRAME]) + puback(2),
    "subscribe_cap": LIMITS + bytes([FRAME]) + connect("dev") + bytes([DECIDE, 0, FRAME])
    + subscribe(7, "a", "b", "c", "d", "a") + bytes([FRAME]) + unsubscribe(8, "b", "x")
    + bytes([FRAME]) + subscribe(9, "e/#"),
    "policy_restore": LIMITS + bytes([POLICY, ord("#"), FRAME]) + connect("dev", clean=False)
    + bytes([RESTORE, 5, 0, 1, 3, 1, 7, DECIDE | 0x10, 0, FRAME]) + subscribe(1, "#", "x"),
    "take_over": LIMITS + bytes([FRAME]) + connect("dev") + bytes([DECIDE, 0, TAKE_OVER, OUT]),
    "end_revoked": LIMITS + bytes([FRAME]) + connect("dev") + bytes([DECIDE, 0, END, 7, OUT]),
    "disconnect": LIMITS + bytes([FRAME]) + connect("dev") + bytes([DECIDE, 0, FRAME])
    + frame(0xE0, b"") + bytes([FRAME]) + frame(0xC0, b""),
    "qos2_closes": LIMITS + bytes([FRAME]) + connect("dev") + bytes([DECIDE, 0, FRAME])
    + frame(0x34, s16("t") + b"\x00\x05x"),
    "bad_protocol_level": LIMITS + bytes([FRAME]) + frame(0x10, s16("MQTT") + bytes([3, 2, 0, 60])
                                                           + s16("dev")),
    "built_packets": LIMITS + bytes([11, 0, 30, DECIDE, 0, 12 | 0x10, 3, 13, 1, 3, 0, 1, 5,
                                     PERSISTED, 3, OUT, 15, 0, 15 | 0x10, 14, 1, 1, 0]),
}

# iothub_dialect_fuzz: NUL-separated fields: client id, username, SAS password, topic, bag,
# subscription filter, extra properties ("k\1v\1..."), flags.
def fields(*values):
    return b"\0".join(v.encode() if isinstance(v, str) else v for v in values)


SAS = ("SharedAccessSignature sr=hub.azure-devices.net%2Fdevices%2Fdev-1&"
       "sig=q2qZ7m0T2w8RlDm%2BqU4O8w5uGd2tW8qj1o2z2jv3Sxw%3D&se=1700003600")
USER = "hub.azure-devices.net/dev-1/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.17"
DIALECT = {
    "device_telemetry": fields("dev-1", USER, SAS,
                               "devices/dev-1/messages/events/$.ct=application%2Fjson&a=1",
                               "k=v&$.mid=42&x", "devices/dev-1/messages/devicebound/#",
                               "p\1q", "\0"),
    "module_telemetry": fields("dev-1/mod-a", "hub/dev-1/mod-a/?api-version=2020-09-30",
                               SAS.replace("dev-1", "dev-1%2Fmodules%2Fmod-a"),
                               "devices/dev-1/modules/mod-a/messages/events/$.on=out1/",
                               "$.cdid=x&%24.cmid=y&k%3D=v%26", "devices/dev-1/modules/mod-a/inputs/#",
                               "$.cdid\1a\1k\1b\1k\1c\1m", "\4"),
    "twin_get": fields("dev-1", USER, "SharedAccessSignature se=1&sr=a&sig=b",
                       "$iothub/twin/GET/?$rid=1", "", "$iothub/twin/res/#", "", ""),
    "twin_patch": fields("d", "h/d/api-version=2017-06-30/DeviceClientType=Microsoft.Azure."
                         "Devices.Client/1.5.1-preview-003", "SharedAccessSignature sr=x",
                         "$iothub/twin/PATCH/properties/reported/?$rid=7", "a&b&c",
                         "$iothub/twin/PATCH/properties/desired/#", "", "\1"),
    "method_response": fields("d/m", "h/d/m/?api-version=1&model-id=dtmi%3Ax%3By%3B1", "",
                              "$iothub/methods/res/200/?$rid=abc", "%E2%82%AC=%F0%9F%98%80",
                              "$iothub/methods/POST/#", "", "\2"),
    "bad_bag": fields("dev-1", "", "", "devices/dev-1/messages/events/a=b=c", "=v&&", "#",
                      "", ""),
    "other_identity": fields("dev-1", "", "", "devices/dev-2/messages/events/", "a/b",
                             "devices/dev-2/messages/devicebound/#", "", ""),
    "many_pairs": fields("dev-1", "", "", "devices/dev-1/messages/events/"
                         + "&".join("k%d" % i for i in range(300)),
                         "&".join("p%d=%d" % (i, i) for i in range(257)), "+/#", "", ""),
    "percent_escapes": fields("a%41", "", "", "devices/a%41/messages/events/%C0%AF=%ZZ&?q?=1",
                              "%FF=%24&%3F", "devices/a%41/messages/devicebound/#", "", ""),
}


def write(directory, seeds):
    path = os.path.join(HERE, "corpus", directory)
    os.makedirs(path, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("mqtt_session", SESSION)
    write("iothub_dialect", DIALECT)
