#!/usr/bin/env python3
"""Writes the seed corpus of mqtt_codec_fuzz into corpus/mqtt_codec/ (one binary file per seed).

Valid frames of every packet type (the golden frames of tests/unit/protocols/mqtt/codec_test.cpp,
including the Azure SDK captures), a few multi-frame streams, and malformed frames, one per
decoder error. Re-run after changing the list; files found by fuzzing are added next to these
by hand (named crash-<what>) and are not touched by this script.
"""

import os


def b(*values):
    return bytes(values)


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


AZURE_USER = ("localhost/dev1/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4"
              "%20(node%20v20.20.2%3B%20Debian%2012%3B%20x64)")
AZURE_SAS = ("SharedAccessSignature sr=localhost%2Fdevices%2Fdev1&sig=rhvnF2oKe1V%2BeDUgNhCg1q3H3r"
             "ctCvwGs0WuEO6iz3k%3D&se=1795701487")
AZURE_TOPIC = ("devices/dev1/messages/events/%24.mid=mid-1&%24.cid=cid-1&%24.uid=user-1&%24.to=%2F"
               "some%2Fto&%24.ct=application%2Fjson&%24.ce=utf-8&%24.exp=2026-11-26T13%3A58%3A07.89"
               "9Z&prop1=value%201&weird%2Fkey%26%3D=v%3Da%26b%2Fc&%24.sub=comp1")
MQTT = s16("MQTT") + b(4)

VALID = {
    "connect_minimal": frame(0x10, MQTT + b(0x02, 0x00, 0x3C) + s16("c1")),
    "connect_full": frame(0x10, MQTT + b(0xEC, 0xFF, 0xFF) + s16("id") + s16("w/t")
                          + s16(b(0x00, 0xFF)) + s16("u") + s16(b(ord("p"), 0))),
    "connect_azure": frame(0x10, MQTT + b(0xC0, 0x00, 0xB4) + s16("dev1") + s16(AZURE_USER)
                           + s16(AZURE_SAS)),
    "connect_module_will": frame(0x10, MQTT + b(0x36, 0x00, 0x00) + s16("edge1/modA")
                                 + s16("status/edge1") + s16("gone")),
    "connack_accepted": b(0x20, 0x02, 0x00, 0x00),
    "connack_session_present": b(0x20, 0x02, 0x01, 0x00),
    "connack_not_authorized": b(0x20, 0x02, 0x00, 0x05),
    "publish_qos0": frame(0x30, s16("a/b") + b"hi"),
    "publish_qos1": frame(0x32, s16("devices/dev1/messages/events/") + b(0x5C, 0x9A)
                          + b"plain body"),
    "publish_qos2_dup_retain": frame(0x3D, s16("t") + b(0x01, 0x02)),
    "publish_azure": frame(0x32, s16(AZURE_TOPIC) + b(0x5C, 0x99) + b'{"temp":21.5}'),
    "publish_twin_get": frame(0x30, s16("$iothub/twin/GET/?$rid=f9cd48d5") + b" "),
    "publish_utf8": frame(0x30, s16("\u20ac/\ufeff/\U0001F600") + b"\x00\xff"),
    "publish_two_byte_length": frame(0x30, s16("big") + b"x" * 200),
    "puback": b(0x40, 0x02, 0x5C, 0x99),
    "pubrec": b(0x50, 0x02, 0x00, 0x01),
    "pubrel": b(0x62, 0x02, 0x00, 0x01),
    "pubcomp": b(0x70, 0x02, 0xFF, 0xFF),
    "subscribe_azure": frame(0x82, b(0x5C, 0x98) + s16("devices/dev1/messages/devicebound/#")
                             + b(1)),
    "subscribe_two": frame(0x82, b(0x00, 0x07) + s16("#") + b(0) + s16("+") + b(2)),
    "suback": b(0x90, 0x05, 0x5C, 0x98, 0x01, 0x80, 0x00),
    "unsubscribe": frame(0xA2, b(0x00, 0x09) + s16("a") + s16("b/+")),
    "unsuback": b(0xB0, 0x02, 0x00, 0x09),
    "pingreq": b(0xC0, 0x00),
    "pingresp": b(0xD0, 0x00),
    "disconnect": b(0xE0, 0x00),
}

MALFORMED = {
    "bad_fifth_length_byte": b(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01),
    "bad_non_minimal_length": b(0xC0, 0x80, 0x00),
    "bad_reserved_flags": b(0x41, 0x02, 0x00, 0x01),
    "bad_type_15": b(0xF0, 0x00),
    "bad_utf8_surrogate": frame(0x30, s16(b(0xED, 0xA0, 0x80))),
    "bad_utf8_overlong_nul": frame(0x30, s16(b(0xC0, 0x80))),
    "bad_protocol_mqisdp": frame(0x10, s16("MQIsdp") + b(3, 0x02, 0x00, 0x3C) + s16("c")),
    "bad_password_without_username": frame(0x10, MQTT + b(0x42, 0, 0) + s16("c") + s16("p")),
    "bad_will_qos3": frame(0x10, MQTT + b(0x1E, 0, 0) + s16("c") + s16("w") + s16("m")),
    "bad_publish_wildcard": frame(0x30, s16("a/+")),
    "bad_publish_qos3": frame(0x36, s16("t") + b(0, 1)),
    "bad_publish_dup_qos0": frame(0x38, s16("t")),
    "bad_subscribe_filter": frame(0x82, b(0, 1) + s16("a/#/b") + b(0)),
    "bad_subscribe_qos3": frame(0x82, b(0, 1) + s16("a") + b(3)),
    "bad_subscribe_empty": b(0x82, 0x02, 0x00, 0x01),
    "bad_packet_id_zero": b(0x40, 0x02, 0x00, 0x00),
    "bad_trailing_byte": b(0x40, 0x03, 0x00, 0x01, 0x00),
    "bad_truncated_connect": frame(0x10, MQTT + b(0x02, 0x00)),
    "bad_suback_code": b(0x90, 0x03, 0x00, 0x01, 0x03),
}

STREAMS = {
    "stream_session": VALID["connect_azure"] + VALID["subscribe_azure"] + VALID["publish_azure"]
                      + VALID["puback"] + VALID["pingreq"] + VALID["disconnect"],
    "stream_partial_tail": VALID["pingreq"] + VALID["publish_qos1"][:9],
}


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "mqtt_codec")
    os.makedirs(root, exist_ok=True)
    seeds = {**VALID, **MALFORMED, **STREAMS}
    for name, data in seeds.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(seeds)} seeds to {root}")


if __name__ == "__main__":
    main()
