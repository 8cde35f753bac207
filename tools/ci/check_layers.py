#!/usr/bin/env python3
"""Checks the layering rules of ARCHITECTURE.md §1 on #include lines.

Usage: check_layers.py [ROOT]      (ROOT defaults to the repository holding this script)
       check_layers.py --self-test (builds small trees in a temp folder and checks the checker)

Prints one line per violation, `path:line: rule: #include ...`, and exits 1; prints
"layers: ok (N files)" and exits 0 when every scanned file follows the rules.
Standard library only, so it runs before anything is built.

Two kinds of rules:
- third-party headers per layer (pure code has no CAF, Asio, sockets, logging, ...);
- edges between our own folders: FOLDERS below is the table of the folder libraries, their
  layer and the folders each may include. An include of another folder of ours that is not in
  the table fails, so does one that points up a layer, and so does a file in a folder the
  table does not know (a new folder is added to the table on purpose, not by accident).
"""

import contextlib
import io
import os
import re
import shutil
import sys
import tempfile

SOURCE_FOLDERS = ("actors", "protocols", "routing", "storage", "supervisor", "tools", "tests")
EXTENSIONS = (".hpp", ".cpp", ".h", ".cc", ".ipp")
SKIP_DIRS = {"node_modules", ".git"}

# Layers (ARCHITECTURE.md §1). An edge may stay in its layer or point down, never up.
L0, L1, L2, L3, TOOLS, TESTS = 0, 1, 2, 3, 4, 5
LAYER_NAMES = {L0: "L0 vocabulary", L1: "L1 pure", L2: "L2 adapter", L3: "L3 actors",
               TOOLS: "tools", TESTS: "tests"}
ANY = "*"  # may include any folder of ours (tests only)

# The folder libraries (one folder = one CMake library, matched by longest prefix, so
# `storage/rocksdb` is not `storage`), their layer, and the folders each may include besides
# itself. Derived from ARCHITECTURE.md §1 and the includes of the tree; to add a folder, add
# its line here (and an edge to it in the lines of the folders that use it).
FOLDERS = {
    # L0 vocabulary: std only.
    "protocols/common": (L0, ()),
    "routing/model": (L0, ("protocols/common",)),
    # L1 pure logic: L0 and the pure folders below them.
    "protocols/mqtt": (L1, ("protocols/common",)),
    "protocols/iothub": (L1, ("protocols/common", "routing/model")),
    # IoT Hub's AMQP dialect on Proton's engine (the one L1 folder that may use Proton).
    "protocols/amqp": (L1, ("protocols/common", "protocols/iothub", "routing/model")),
    "routing/grammar": (L1, ("protocols/common",)),
    "routing/query": (L1, ("protocols/common", "routing/model", "routing/grammar")),
    "routing/router": (L1, ("protocols/common", "routing/model", "routing/grammar",
                            "routing/query")),
    "storage": (L1, ("protocols/common",)),
    "supervisor/model": (L1, ("protocols/common",)),
    "supervisor/planner": (L1, ("protocols/common", "supervisor/model")),
    # The endpoint state machine (a template over the entry type: no storage types needed).
    "routing/endpoint": (L1, ("protocols/common",)),
    # The hub's protocol-independent session core: IoT Hub addresses, routes, store requests.
    "protocols/hub": (L1, ("protocols/common", "protocols/iothub", "routing/model",
                           "routing/grammar", "routing/query", "routing/router", "storage")),
    # L2 adapters. supervisor/runtime's Docker client speaks HTTP over a unix socket through
    # transport's client (adapter on adapter, no CAF either side) and percent-encodes Docker's
    # filters with iothub's encoder.
    "protocols/transport": (L2, ("protocols/common",)),
    "storage/rocksdb": (L2, ("protocols/common", "storage")),
    "supervisor/runtime": (L2, ("protocols/common", "protocols/iothub", "protocols/transport")),
    # outpostd's configuration file and data folder modes: reads files and chmods, CAF-free,
    # shared by the composition root and the CLI.
    "supervisor/config": (L2, ("protocols/common",)),
    # L3 actors: the glue. app is the composition root and includes every actor folder.
    "actors/common": (L3, ("protocols/common", "storage", "routing/endpoint")),
    # Module identities: the identity registry and the workload API (hub and agent use it).
    "actors/workload": (L3, ("protocols/common", "protocols/iothub", "protocols/transport",
                             "storage", "actors/common")),
    "actors/hub": (L3, ("protocols/common", "protocols/mqtt", "protocols/iothub", "protocols/amqp",
                        "protocols/hub", "protocols/transport", "routing/model",
                        "routing/router", "storage", "actors/common", "actors/workload")),
    "actors/agent": (L3, ("protocols/common", "protocols/iothub", "protocols/transport",
                          "storage", "supervisor/model", "supervisor/planner",
                          "supervisor/runtime", "actors/common", "actors/workload")),
    "actors/app": (L3, ("protocols/common", "protocols/iothub", "protocols/transport",
                        "routing/router", "storage", "storage/rocksdb", "supervisor/model",
                        "supervisor/planner", "supervisor/runtime", "supervisor/config",
                        "actors/common", "actors/workload", "actors/hub", "actors/agent")),
    # tools: any library, never actor internals.
    "tools/cli": (TOOLS, ("protocols/common", "protocols/iothub", "protocols/transport",
                          "routing/router", "supervisor/config")),
    "tools/loadgen": (TOOLS, ("protocols/common", "protocols/mqtt", "protocols/iothub",
                              "protocols/transport")),
    # The benchmarks' floor: our codec and our storage adapter, no actors.
    "tools/reflector": (TOOLS, ("protocols/common", "protocols/mqtt", "storage",
                                "storage/rocksdb")),
    # tests: anything (the build still links only what each test declares).
    "tests": (TESTS, ANY),
}

# Edges the tree has today that break the layering, each with why it is there and what
# removes it. An edge listed here that the tree no longer uses fails the check, so the list
# only shrinks.
TOLERATED = {}

# (rule name, predicate on the included path) for pure folders (L0, L1).
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
)
PROTON_FOLDER = "protocols/amqp"
BEAST_ADAPTER = "protocols/transport"

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def under(path, folder):
    return path == folder or path.startswith(folder + "/")


def folder_of(path, table=None):
    """The table's folder library holding `path` (longest prefix), or None."""
    table = FOLDERS if table is None else table
    best = None
    for folder in table:
        if under(path, folder) and (best is None or len(folder) > len(best)):
            best = folder
    return best


def ours(header):
    """Whether an include names a file of this repository ("routing/model/message.hpp")."""
    return "/" in header and header.split("/", 1)[0] in SOURCE_FOLDERS


def table_errors(table=None, tolerated=None):
    """Mistakes in the table itself: unknown targets, edges pointing up, cycles."""
    table = FOLDERS if table is None else table
    tolerated = TOLERATED if tolerated is None else tolerated
    errors = []
    for folder, (layer, allowed) in sorted(table.items()):
        if allowed == ANY:
            continue
        for target in allowed:
            if target not in table:
                errors.append(f"{folder} may include {target}, which is not in the table")
            elif table[target][0] > layer:
                errors.append(f"{folder} ({LAYER_NAMES[layer]}) may include {target} "
                              f"({LAYER_NAMES[table[target][0]]}): points up")
    for source, target in sorted(tolerated):
        if source not in table or target not in table:
            errors.append(f"tolerated edge {source} -> {target} names a folder not in the table")
    # Folders of one layer may include each other (routing/query -> routing/grammar), so a
    # cycle is possible in principle: fail it, a cycle is not a layering.
    state = {}

    def visit(folder, trail):
        state[folder] = "open"
        allowed = table[folder][1]
        for target in (() if allowed == ANY else allowed):
            if target not in table:
                continue
            if state.get(target) == "open":
                errors.append("cycle: " + " -> ".join(trail + [folder, target]))
            elif target not in state:
                visit(target, trail + [folder])
        state[folder] = "done"

    for folder in sorted(table):
        if folder not in state:
            visit(folder, [])
    return errors


def violations_for(path, header, table=None, tolerated=None, used=None):
    """Yields the rules that `path` breaks by including `header`."""
    table = FOLDERS if table is None else table
    tolerated = TOLERATED if tolerated is None else tolerated
    source = folder_of(path, table)
    if source is None:
        yield "folder not in the layer table (tools/ci/check_layers.py FOLDERS)"
        return
    layer, allowed = table[source]

    if layer <= L1:
        for rule, forbidden in PURE_FORBIDDEN:
            if forbidden(header):
                yield rule
    if header.startswith("proton/") and layer <= L2 and not under(path, PROTON_FOLDER):
        yield f"only {PROTON_FOLDER} may use Qpid Proton"
    if layer == L2:
        if header.startswith("caf/"):
            yield "adapters (L2) must not use CAF"
        if header.startswith("boost/beast") and source != BEAST_ADAPTER:
            yield f"Beast is confined to {BEAST_ADAPTER}, actors, tools and tests"

    if header.startswith("../") or "/../" in header:
        # The include trees of the build (tools/cmake/README.md) expose folders by their path
        # from the repository root; a relative path would reach around them.
        yield "include our headers by their path from the repository root, not ../"
        return
    if not ours(header):
        return
    target = folder_of(header, table)
    if target is None:
        yield "includes a folder not in the layer table (tools/ci/check_layers.py FOLDERS)"
        return
    if target == source or allowed == ANY:
        return
    target_layer = table[target][0]
    if (source, target) in tolerated:
        if used is not None:
            used.add((source, target))
        return
    if target_layer > layer:
        yield (f"include points up: {source} ({LAYER_NAMES[layer]}) -> {target} "
               f"({LAYER_NAMES[target_layer]})")
    elif target not in allowed:
        yield (f"edge {source} -> {target} is not in the layer table "
               "(tools/ci/check_layers.py FOLDERS)")


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


def check(root, table=None, tolerated=None):
    """(number of files scanned, list of problems) for the tree at `root`."""
    table = FOLDERS if table is None else table
    tolerated = TOLERATED if tolerated is None else tolerated
    problems = [f"tools/ci/check_layers.py: layer table: {e}"
                for e in table_errors(table, tolerated)]
    count = 0
    used = set()
    scanned = set()
    for path, full in source_files(root):
        count += 1
        scanned.add(folder_of(path, table))
        with open(full, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for number, header, spelled in includes(text):
            for rule in violations_for(path, header, table, tolerated, used):
                problems.append(f"{path}:{number}: {rule}: #include {spelled}")
    for source, target in sorted(tolerated):
        if source in scanned and (source, target) not in used:
            problems.append(f"tools/ci/check_layers.py: tolerated edge {source} -> {target} is "
                            "no longer used: remove it from TOLERATED")
    return count, problems


def run(root):
    if not os.path.isdir(root):
        print(f"layers: {root} is not a directory", file=sys.stderr)
        return 2
    count, problems = check(root)
    if problems:
        for problem in problems:
            print(problem)
        print(f"layers: {len(problems)} violation(s) in {count} files (ARCHITECTURE.md §1)",
              file=sys.stderr)
        return 1
    print(f"layers: ok ({count} files)")
    return 0


# --- self-test -------------------------------------------------------------------------------

# (expected, name, {path: content}). expected: "pass", or "fail:PATH:LINE:TEXT" (a violation
# at PATH:LINE whose rule contains TEXT).
SELF_TEST_CASES = (
    # Pure folders (L0/L1): third-party headers.
    ("fail:storage/x.cpp:1:RocksDB", "pure storage includes rocksdb",
     {"storage/x.cpp": "#include <rocksdb/db.h>\n"}),
    ("pass", "pure storage, clean",
     {"storage/x.cpp": '#include "protocols/common/result.hpp"\n#include "storage/kv.hpp"\n\n'
                       "#include <chrono>\n#include <vector>\n"}),
    ("fail:routing/model/m.hpp:2:threads", "routing starts a thread",
     {"routing/model/m.hpp": "#pragma once\n#include <thread>\n"}),
    ("fail:protocols/mqtt/codec.cpp:1:Asio", "mqtt uses asio",
     {"protocols/mqtt/codec.cpp": "#include <boost/asio/buffer.hpp>\n"}),
    ("fail:protocols/iothub/t.cpp:1:Asio", "iothub uses standalone asio",
     {"protocols/iothub/t.cpp": "#include <asio.hpp>\n"}),
    ("fail:protocols/common/e.hpp:1:log", "common logs",
     {"protocols/common/e.hpp": "#include <spdlog/spdlog.h>\n"}),
    ("fail:supervisor/planner/p.cpp:1:CAF", "supervisor uses CAF",
     {"supervisor/planner/p.cpp": "#include <caf/all.hpp>\n"}),
    ("fail:storage/s.cpp:1:OpenSSL", "storage uses OpenSSL",
     {"storage/s.cpp": "#include <openssl/sha.h>\n"}),
    ("fail:routing/router/r.cpp:1:prometheus", "routing uses prometheus",
     {"routing/router/r.cpp": "#include <prometheus/counter.h>\n"}),
    ("fail:routing/query/r.cpp:1:sockets", "routing uses sockets",
     {"routing/query/r.cpp": "#include <sys/socket.h>\n"}),
    ("fail:protocols/mqtt/x.cpp:1:Proton", "mqtt uses proton",
     {"protocols/mqtt/x.cpp": "#include <proton/message.hpp>\n"}),
    ("pass", "commented-out includes",
     {"routing/model/r.cpp": "// #include <thread>\n/* #include <caf/all.hpp>\n"
                             '#include "actors/hub/x.hpp" */\n#include <vector>\n'}),
    # L2 adapters.
    ("pass", "rocksdb adapter uses rocksdb",
     {"storage/rocksdb/engine.cpp": "#include <rocksdb/db.h>\n"}),
    ("pass", "runtime adapter uses asio",
     {"supervisor/runtime/spawn.cpp": "#include <boost/asio/io_context.hpp>\n"}),
    ("pass", "transport uses beast",
     {"protocols/transport/http_server.cpp": "#include <boost/beast/http.hpp>\n"}),
    ("fail:supervisor/runtime/docker.cpp:1:CAF", "adapter uses CAF",
     {"supervisor/runtime/docker.cpp": "#include <caf/actor.hpp>\n"}),
    ("fail:storage/rocksdb/x.cpp:1:Beast", "beast outside transport",
     {"storage/rocksdb/x.cpp": "#include <boost/beast/core.hpp>\n"}),
    ("pass", "tool uses beast", {"tools/loadgen/main.cpp": "#include <boost/beast/websocket.hpp>\n"}),
    # Edges between our folders: pointing up.
    ("fail:storage/x.cpp:2:points up", "pure includes an actor",
     {"storage/x.cpp": '#include <vector>\n#include "actors/common/storage_writer.hpp"\n'}),
    ("fail:protocols/mqtt/s.hpp:1:points up", "pure includes an actor header",
     {"protocols/mqtt/s.hpp": '#include "actors/hub/mqtt_session.hpp"\n'}),
    ("fail:storage/s.cpp:1:points up", "pure includes an adapter",
     {"storage/s.cpp": '#include "storage/rocksdb/rocksdb_kv_store.hpp"\n'}),
    ("fail:protocols/transport/x.cpp:1:points up", "adapter includes an actor",
     {"protocols/transport/x.cpp": '#include "actors/hub/session.hpp"\n'}),
    ("fail:routing/model/m.hpp:1:points up", "L0 includes L1",
     {"routing/model/m.hpp": '#include "routing/router/route_table.hpp"\n'}),
    ("fail:tools/cli/main.cpp:1:not in the layer table", "tool includes actor internals",
     {"tools/cli/main.cpp": '#include "actors/common/mailbox.hpp"\n'}),
    ("fail:tools/loadgen/main.cpp:1:not in the layer table", "tool includes the composition root",
     {"tools/loadgen/main.cpp": '#include "actors/app/daemon.hpp"\n'}),
    ("fail:actors/common/x.cpp:1:points up", "actor includes a test",
     {"actors/common/x.cpp": '#include "tests/support/process.hpp"\n'}),
    # Edges between our folders: down or sideways but not in the table.
    ("fail:protocols/mqtt/t.cpp:1:not in the layer table", "mqtt includes routing",
     {"protocols/mqtt/t.cpp": '#include "routing/model/message.hpp"\n'}),
    ("fail:supervisor/model/t.cpp:1:not in the layer table", "L1 sideways",
     {"supervisor/model/t.cpp": '#include "storage/kv_store.hpp"\n'}),
    ("fail:actors/common/a.cpp:1:not in the layer table", "common actors include hub actors",
     {"actors/common/a.cpp": '#include "actors/hub/session_directory.hpp"\n'}),
    ("fail:actors/hub/h.cpp:1:not in the layer table", "hub includes the composition root",
     {"actors/hub/h.cpp": '#include "actors/app/daemon.hpp"\n'}),
    ("fail:storage/rocksdb/r.cpp:1:not in the layer table", "adapter includes another adapter",
     {"storage/rocksdb/r.cpp": '#include "protocols/transport/io_runner.hpp"\n'}),
    # Edges in the table, and what is always allowed.
    ("pass", "router includes query, grammar, model",
     {"routing/router/r.cpp": '#include "routing/query/condition.hpp"\n'
                              '#include "routing/grammar/parser.hpp"\n'
                              '#include "routing/model/message.hpp"\n'}),
    ("pass", "actor includes actors and CAF",
     {"actors/hub/a.cpp": '#include "actors/common/log.hpp"\n#include <caf/all.hpp>\n'}),
    ("pass", "own folder, detail/ and unrelated quoted includes",
     {"protocols/iothub/t.cpp": '#include "protocols/iothub/detail/x.hpp"\n#include "local.hpp"\n'
                                '#include "gtest/gtest.h"\n'}),
    ("pass", "test includes anything",
     {"tests/unit/actors/a_test.cpp": '#include "actors/hub/a.hpp"\n#include <caf/all.hpp>\n'
                                      '#include <rocksdb/db.h>\n#include "tools/cli/x.hpp"\n'}),
    ("pass", "tool includes libraries",
     {"tools/loadgen/net.cpp": '#include "protocols/mqtt/encoder.hpp"\n'
                               '#include "protocols/transport/crypto.hpp"\n'}),
    ("fail:actors/hub/x.cpp:2:not ../", "relative include reaching around the include trees",
     {"actors/hub/x.cpp": '#include <vector>\n#include "../app/daemon.hpp"\n'}),
    # Folders the table does not know.
    ("fail:protocols/zigbee/session.cpp:1:folder not in the layer table", "new folder",
     {"protocols/zigbee/session.cpp": "#include <vector>\n"}),
    ("fail:actors/hub/x.cpp:1:includes a folder not in the layer table", "unknown target",
     {"actors/hub/x.cpp": '#include "protocols/zigbee/frame.hpp"\n'}),
    # Tolerated edges: allowed while used, a failure once nothing uses them.
    ("pass", "tolerated edge in use",
     {"actors/agent/agent.hpp": '#include "actors/hub/identity_registry.hpp"\n'}),
    ("fail:tools/ci/check_layers.py::no longer used", "tolerated edge unused",
     {"actors/agent/agent.hpp": '#include "actors/common/storage_writer.hpp"\n'}),
    ("pass", "the CLI includes the config library",
     {"tools/cli/main.cpp": '#include "supervisor/config/config.hpp"\n'
                            '#include "supervisor/config/build_info.hpp"\n'}),
    ("fail:tools/cli/main.cpp:1:not in the layer table", "the CLI includes the composition root",
     {"tools/cli/main.cpp": '#include "actors/app/config.hpp"\n'}),
    ("fail:supervisor/config/c.cpp:1:CAF", "the config library uses CAF",
     {"supervisor/config/c.cpp": '#include <caf/settings.hpp>\n'}),
)

# (name, table, tolerated, text expected in one of table_errors()).
SELF_TEST_TABLES = (
    ("edge up in the table", {"a": (L1, ("b",)), "b": (L3, ())}, {}, "points up"),
    ("edge to a folder not in the table", {"a": (L1, ("c",))}, {}, "not in the table"),
    ("cycle", {"a": (L1, ("b",)), "b": (L1, ("c",)), "c": (L1, ("a",))}, {}, "cycle: "),
    ("tolerated edge of an unknown folder", {"a": (L1, ())}, {("a", "z"): "why"},
     "names a folder not in the table"),
)


# The tolerated edges the self-test's trees are checked with (the real list may be empty).
SELF_TEST_TOLERATED = {("actors/agent", "actors/hub"): "a self-test case"}


def self_test():
    global TOLERATED
    failures = []
    cases = 0
    work = tempfile.mkdtemp(prefix="check_layers.")
    real_tolerated, TOLERATED = TOLERATED, SELF_TEST_TOLERATED
    try:
        for number, (expected, name, files) in enumerate(SELF_TEST_CASES):
            cases += 1
            tree = os.path.join(work, f"case{number}")
            for path, content in files.items():
                full = os.path.join(tree, path)
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "w", encoding="utf-8") as f:
                    f.write(content)
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                status = run(tree)
            lines = out.getvalue().splitlines()
            if expected == "pass":
                if status != 0 or lines != [f"layers: ok ({len(files)} files)"]:
                    failures.append(f"{name}: expected a pass, got exit {status}: {lines}")
            else:
                _, path, line, text = expected.split(":", 3)
                prefix = f"{path}:{line}: " if line else f"{path}: "
                if status != 1 or not any(l.startswith(prefix) and text in l for l in lines):
                    failures.append(f"{name}: expected `{prefix}...{text}...`, got exit "
                                    f"{status}: {lines}")
        TOLERATED = real_tolerated
        for name, table, tolerated, text in SELF_TEST_TABLES:
            cases += 1
            errors = table_errors(table, tolerated)
            if not any(text in e for e in errors):
                failures.append(f"table {name}: expected an error with `{text}`, got {errors}")
        # The real table is consistent.
        cases += 1
        if table_errors():
            failures.append(f"the layer table has errors: {table_errors()}")
        # Exit status 2 on a bad root.
        cases += 1
        with contextlib.redirect_stderr(io.StringIO()):
            if run(os.path.join(work, "missing")) != 2:
                failures.append("a missing root does not exit 2")
    finally:
        TOLERATED = real_tolerated
        shutil.rmtree(work)
    for failure in failures:
        print(f"FAIL: {failure}")
    if failures:
        print(f"check_layers self-test: {len(failures)} of {cases} cases failed")
        return 1
    print(f"check_layers self-test: ok ({cases} cases)")
    return 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print("\n".join(__doc__.strip().splitlines()[2:4]), file=sys.stderr)
        return 2
    default_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return run(os.path.abspath(argv[1] if len(argv) == 2 else default_root))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
