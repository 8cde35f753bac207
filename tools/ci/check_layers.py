#!/usr/bin/env python3
"""Checks the layering rules of ARCHITECTURE.md §1 on #include lines.

Usage: check_layers.py [ROOT]   (ROOT defaults to the repository holding this script)

Prints one line per violation, `path:line: rule: #include ...`, and exits 1; prints
"layers: ok (N files)" and exits 0 when every scanned file follows the rules.
Standard library only, so it runs before anything is built.
"""

import os
import re
import sys

SOURCE_FOLDERS = ("actors", "protocols", "routing", "storage", "supervisor", "tools", "tests")
EXTENSIONS = (".hpp", ".cpp", ".h", ".cc", ".ipp")
SKIP_DIRS = {"node_modules", ".git"}

# L1 pure logic and L0 vocabulary: deterministic code, fuzzed and tested byte by byte.
PURE_FOLDERS = ("protocols/common", "protocols/mqtt", "protocols/iothub", "protocols/amqp",
                "routing", "storage", "supervisor")
# Adapters inside otherwise pure folders.
ADAPTER_FOLDERS = ("protocols/transport", "storage/rocksdb", "supervisor/runtime")

# (rule name, predicate on the included path) for pure folders.
PURE_FORBIDDEN = (
    ("pure code must not use CAF", lambda h: h.startswith("caf/")),
    ("pure code must not use Asio", lambda h: h.startswith("boost/asio") or h == "asio.hpp"
     or h.startswith("asio/")),
    ("pure code must not use Beast", lambda h: h.startswith("boost/beast")),
    ("pure code must not use RocksDB", lambda h: h.startswith("rocksdb/")),
    ("pure code must not use OpenSSL", lambda h: h.startswith("openssl/")),
    ("pure code must not log", lambda h: h.startswith("spdlog/")),
    ("pure code must not use prometheus-cpp", lambda h: h.startswith("prometheus/")),
    ("pure code must not use sockets", lambda h: h in ("sys/socket.h", "sys/un.h", "netdb.h")
     or h.startswith("netinet/")),
    ("pure code must not start threads", lambda h: h == "thread"),
    ("pure code must not include adapters (L2)",
     lambda h: any(under(h, folder) for folder in ADAPTER_FOLDERS)),
)
# CAF-free libraries of actors/app that tools (the CLI) may use: the configuration file
# and the build's version, shared so `outpost` reads outpostd's config exactly as it does.
TOOL_VISIBLE_ACTOR_HEADERS = ("actors/app/config.hpp", "actors/app/build_info.hpp",
                              "actors/app/data_dir.hpp")
PROTON_RULE = ("only protocols/amqp may use Qpid Proton", lambda h: h.startswith("proton/"))

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def under(path, folder):
    return path == folder or path.startswith(folder + "/")


def is_pure(path):
    if any(under(path, folder) for folder in ADAPTER_FOLDERS):
        return False
    return any(under(path, folder) for folder in PURE_FOLDERS)


def violations_for(path, header):
    """Yields the rules that `path` breaks by including `header`."""
    if is_pure(path):
        for rule, forbidden in PURE_FORBIDDEN:
            if forbidden(header):
                yield rule
        if PROTON_RULE[1](header) and not under(path, "protocols/amqp"):
            yield PROTON_RULE[0]
    if any(under(path, folder) for folder in ADAPTER_FOLDERS):
        if header.startswith("caf/"):
            yield "adapters (L2) must not use CAF"
        if under(header, "actors"):
            yield "adapters (L2) must not include actors"
    # Checked separately from the adapter rule so an adapter breaking it reports it once.
    elif under(header, "actors") and not (under(path, "actors") or under(path, "tests")):
        # Tools may use the composition root's CAF-free libraries, never actor internals.
        if not (under(path, "tools") and header in TOOL_VISIBLE_ACTOR_HEADERS):
            yield "only actors/ and tests/ may include actors/"
    if header.startswith("boost/beast") and not is_pure(path) and not any(
            under(path, folder)
            for folder in ("protocols/transport", "actors", "tests", "tools")):
        yield "Beast is confined to protocols/transport, actors, tools and tests"


def includes(text):
    """Yields (line number, header, header as spelled) per #include outside block comments."""
    in_comment = False
    for number, line in enumerate(text.splitlines(), start=1):
        # Drop block comments, keeping what precedes/follows them on the line.
        code = ""
        rest = line
        while rest:
            if in_comment:
                end = rest.find("*/")
                if end < 0:
                    rest = ""
                else:
                    in_comment = False
                    rest = rest[end + 2:]
            else:
                start = rest.find("/*")
                line_comment = rest.find("//")
                if start < 0 or (0 <= line_comment < start):
                    code += rest
                    rest = ""
                else:
                    code += rest[:start]
                    in_comment = True
                    rest = rest[start + 2:]
        match = INCLUDE_RE.match(code)
        if match:
            header = match.group(2).strip()
            spelled = f"<{header}>" if match.group(1) == "<" else f'"{header}"'
            yield number, header, spelled


def source_files(root):
    for folder in SOURCE_FOLDERS:
        base = os.path.join(root, folder)
        for directory, subdirs, names in os.walk(base):
            subdirs[:] = sorted(d for d in subdirs
                                if d not in SKIP_DIRS and not d.startswith("build"))
            for name in sorted(names):
                if name.endswith(EXTENSIONS):
                    full = os.path.join(directory, name)
                    yield os.path.relpath(full, root).replace(os.sep, "/"), full


def main(argv):
    if len(argv) > 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    default_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    root = os.path.abspath(argv[1] if len(argv) == 2 else default_root)
    if not os.path.isdir(root):
        print(f"layers: {root} is not a directory", file=sys.stderr)
        return 2

    count = 0
    problems = []
    for path, full in source_files(root):
        count += 1
        with open(full, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for number, header, spelled in includes(text):
            for rule in violations_for(path, header):
                problems.append(f"{path}:{number}: {rule}: #include {spelled}")

    if problems:
        for problem in problems:
            print(problem)
        print(f"layers: {len(problems)} violation(s) in {count} files (ARCHITECTURE.md §1)",
              file=sys.stderr)
        return 1
    print(f"layers: ok ({count} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
