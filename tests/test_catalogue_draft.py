"""`hacheck catalogue draft PACKAGE-DIR`: a draft effect catalogue file from a module's code.

Two halves. Small synthetic packages written in tmp_path pin each rule of the reading (where a
constructor's code is, what counts as a timer, a connection, a server, a file write) and the bad
input. Real modules from npm, pinned in scripts/install-deps (.cache/npm-modules), hold the draft
to what their code really says: every registered type, the evidence expected, at a file:line
whose text is checked, and a draft that loads as a catalogue file. Without those modules the
real-module tests are skipped with the command that installs them, and fail under CI=true.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hacheck.analysis.node_module import ModuleError, read_module
from hacheck.effects.catalogue import validate_types
from hacheck.effects.draft import check_draft, draft
from tests.conftest import REPO, assert_clean_error, run_cli

MODULES = REPO / ".cache" / "npm-modules" / "node_modules"


# --------------------------------------------------------------------------------------------
# synthetic packages


def _package(root: Path, files: dict[str, str], nodes: dict[str, str] | None = None, name: str = "node-red-contrib-demo") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    pkg = {"name": name, "version": "1.2.3", "node-red": {"nodes": nodes or {"demo": "demo.js"}}}
    (root / "package.json").write_text(json.dumps(pkg), "utf-8")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return root


def _editor(*types: tuple[str, str]) -> str:
    """An editor .html: one script per (type, the object literal after its name)."""
    out = []
    for name, body in types:
        out.append(f'<script type="text/html" data-template-name="{name}"><div>setInterval</div></script>\n')
        out.append(f'<script type="text/javascript">\n    RED.nodes.registerType("{name}", {body});\n</script>\n')
    return "".join(out)


def _entries(root: Path) -> tuple[dict, str]:
    text = draft(read_module(root))
    return check_draft(text)["types"], text


def _line_of(path: Path, fragment: str) -> int:
    for no, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if fragment in line:
            return no
    raise AssertionError(f"{fragment!r} not in {path}")


TIMER_JS = """module.exports = function (RED) {
    // setInterval(function () {}, 1) in a comment is not a timer
    const text = "setInterval(tick, 5)";
    function TickNode(config) {
        RED.nodes.createNode(this, config);
        const node = this;
        node.timer = setInterval(function () { node.send({payload: Date.now()}); }, config.every * 1000);
    }
    RED.nodes.registerType("tick", TickNode);
};
"""


def test_a_timer_node_is_an_every_copy_timer_with_its_line(tmp_path):
    root = _package(tmp_path / "p", {
        "demo.js": TIMER_JS,
        "demo.html": _editor(("tick", "{category: 'input', defaults: {name: {value: ''}, every: {value: 5, required: true}}, inputs: 0, outputs: 1}")),
    })
    types, text = _entries(root)
    assert list(types) == ["tick"]
    # the field that looks like its period is quoted
    assert types["tick"]["source"] == [{"kind": "every-copy", "class": "timer", "what": "sends every {f[every]}"}]
    line = _line_of(root / "demo.js", "node.timer = setInterval")
    assert f"# timer: demo.js:{line} setInterval()" in text
    # the comment and the string that mention setInterval are not evidence
    assert [e.line for e in read_module(root).types[0].evidence] == [line]
    assert "# defaults: name, every=5" in text
    assert "0 inputs, 1 output" in text


def test_the_draft_says_it_is_a_draft_and_its_types_fit_a_config_file(tmp_path):
    root = _package(tmp_path / "p", {"demo.js": TIMER_JS, "demo.html": _editor(("tick", "{inputs: 0, outputs: 1}"))})
    types, text = _entries(root)
    head = text.split("package:")[0]
    assert "DRAFT" in head and "review" in head
    data = check_draft(text)
    assert data["package"] == "node-red-contrib-demo"
    assert data["checked"].startswith("DRAFT") and "not yet checked by a person" in data["checked"]
    validate_types(types, "effects")  # what a .hacheck.yaml `effects:` takes


def test_a_drafted_entry_in_a_config_makes_check_follow_the_in_house_node(tmp_path):
    """What the draft is for: a team's own node types, put under `effects:`, become sources and
    effects that the rules follow (here a timer in every copy reaching an MQTT publish: HA110)."""
    from hacheck.model.config import Config
    from tests.conftest import check_flow_data

    root = _package(tmp_path / "p", {
        "demo.js": TIMER_JS.replace("};\n", "") + (
            "    const mqtt = require('mqtt');\n"
            "    function PubNode(n) { RED.nodes.createNode(this, n); const c = mqtt.connect(n.url);"
            " this.on('input', (m) => c.publish(n.topic, m.payload)); }\n"
            "    RED.nodes.registerType('pub', PubNode);\n};\n"
        ),
        "demo.html": _editor(("tick", "{inputs: 0, outputs: 1}"), ("pub", "{inputs: 1, outputs: 0}")),
    })
    types, _ = _entries(root)
    assert types["pub"]["effect"][0] == {"kind": "outbound", "class": "publish", "what": "acts through an MQTT client"}
    flow = [
        {"id": "t1", "type": "tab", "label": "Plant"},
        {"id": "a", "type": "tick", "z": "t1", "wires": [["b"]]},
        {"id": "b", "type": "pub", "z": "t1", "wires": []},
    ]
    found = check_flow_data(flow, config=Config(effects=types))
    assert [(f.rule_id, f.node_id) for f in found] == [("HA110", "a")]
    assert "sends on a timer" in found[0].message and "acts through an MQTT client" in found[0].message


CLIENT_JS = """const mqtt = require("mqtt");
const fs = require("node:fs");
module.exports = function (RED) {
    function BrokerNode(n) {
        RED.nodes.createNode(this, n);
        this.client = mqtt.connect(n.url, {clientId: n.clientid});
    }
    RED.nodes.registerType("demo-broker", BrokerNode);

    function InNode(n) {
        RED.nodes.createNode(this, n);
        const broker = RED.nodes.getNode(n.broker);
        broker.client.on("message", (t, p) => this.send({topic: t, payload: p}));
    }
    RED.nodes.registerType("demo in", InNode);

    function OutNode(n) {
        RED.nodes.createNode(this, n);
        this.on("input", (msg) => RED.nodes.getNode(n.broker).client.publish(msg.topic, msg.payload));
    }
    RED.nodes.registerType("demo out", OutNode);

    function LogNode(n) {
        RED.nodes.createNode(this, n);
        this.on("input", (msg) => fs.appendFileSync(n.file, JSON.stringify(msg) + "\\n"));
    }
    RED.nodes.registerType("demo log", LogNode);
};
"""


def test_a_connection_held_by_a_config_node_reaches_its_users(tmp_path):
    root = _package(tmp_path / "p", {
        "demo.js": CLIENT_JS,
        "demo.html": _editor(
            ("demo-broker", "{category: 'config', defaults: {url: {value: 'mqtt://localhost'}, clientid: {value: ''}}}"),
            ("demo in", "{category: 'network', defaults: {broker: {type: 'demo-broker', required: true}}, inputs: 0, outputs: 1}"),
            ("demo out", "{category: 'network', defaults: {broker: {type: 'demo-broker', required: true}}, inputs: 1, outputs: 0}"),
            ("demo log", "{category: 'storage', defaults: {file: {value: ''}}, inputs: 1, outputs: 0}"),
        ),
    })
    types, text = _entries(root)
    assert list(types) == ["demo-broker", "demo in", "demo out", "demo log"]
    js = root / "demo.js"
    connect = _line_of(js, "mqtt.connect(")
    # the config node: the fixed client id is a session; no source or effect of its own
    assert types["demo-broker"]["session"][0]["kind"] == "exclusive"
    assert set(types["demo-broker"]) == {"doc", "session"}
    assert f"# session: demo.js:{connect} clientId: n.clientid" in text
    # its users: an event stream in, a publish out, each naming the config node it comes through
    assert types["demo in"]["source"][0] == {"kind": "every-copy", "class": "event-stream", "what": "receives over an MQTT client"}
    assert types["demo out"]["effect"][0] == {"kind": "outbound", "class": "publish", "what": "acts through an MQTT client"}
    assert f"# client: demo.js:{connect} mqtt.connect(): an MQTT client, through its config node `broker` (demo-broker)" in text
    # the file write is the log node's alone, though fs is required for the whole file
    assert types["demo log"]["effect"][0]["class"] == "disk"
    assert types["demo log"]["host"][0]["kind"] == "disk"
    assert "disk" not in json.dumps(types["demo in"]) and "host" not in types["demo out"]
    assert f"# disk: demo.js:{_line_of(js, 'appendFileSync')} fs.appendFileSync(): changes a file" in text


def test_constructors_in_other_files_minified_red_and_routes(tmp_path):
    root = _package(tmp_path / "p", {
        "lib/main.js": (
            "module.exports=function(s){const H=require('./nodes/hook.js')(s);s.nodes.registerType('hook',H);"
            "s.nodes.registerType('srv',function(c){s.nodes.createNode(this,c);require('net').createServer().listen(c.port)})};\n"
        ),
        "lib/nodes/hook.js": (
            "module.exports = function (RED) {\n"
            "    return function HookNode(config) {\n"
            "        RED.nodes.createNode(this, config);\n"
            "        RED.httpNode.post(config.url, (req, res) => this.send({req, res}));\n"
            "    };\n"
            "};\n"
        ),
        "lib/main.html": _editor(("hook", "{defaults: {url: {value: '/hook'}}, inputs: 0, outputs: 1}"),
                                 ("srv", "{defaults: {port: {value: 9000}}, inputs: 0, outputs: 1}")),
    }, nodes={"main": "lib/main.js"})
    types, text = _entries(root)
    assert types["hook"]["source"][0]["kind"] == "load-balanced"
    assert types["hook"]["source"][0]["class"] == "request"
    assert "# http-route: lib/nodes/hook.js:4 RED.httpNode.post()" in text
    assert types["srv"]["source"][0] == {"kind": "every-copy", "class": "listener", "what": "receives what arrives at its server"}
    assert types["srv"]["host"][0] == {"kind": "port", "what": "listens on port {f[port]} of this copy's host"}
    assert "# server: lib/main.js:1 require('net').createServer(): a TCP server" in text
    assert "hook" not in json.dumps(types["srv"]) and "port" not in json.dumps(types["hook"])
    assert sorted(read_module(root).files) == ["lib/main.html", "lib/main.js", "lib/nodes/hook.js"]


def test_hardware_database_and_a_poll(tmp_path):
    root = _package(tmp_path / "p", {
        "demo.js": """module.exports = function (RED) {
    const { SerialPort } = require("serialport");
    const sqlite3 = require("sqlite3");
    const Imap = require("imap");
    function PortNode(n) { RED.nodes.createNode(this, n); this.port = new SerialPort({path: n.path, baudRate: 9600}); }
    RED.nodes.registerType("port in", PortNode);
    function DbNode(n) { RED.nodes.createNode(this, n); this.db = new sqlite3.Database(n.file); }
    RED.nodes.registerType("db", DbNode);
    function MailNode(n) {
        RED.nodes.createNode(this, n);
        const node = this;
        const check = () => { new Imap({host: n.host}).connect(); node.tid = setTimeout(() => node.emit("input", {}), 60000); };
        check();
    }
    RED.nodes.registerType("mail in", MailNode);
};
""",
        "demo.html": _editor(("port in", "{inputs: 0, outputs: 1}"), ("db", "{inputs: 1, outputs: 1}"), ("mail in", "{inputs: 0, outputs: 1}")),
    })
    types, _ = _entries(root)
    assert types["port in"]["source"][0]["class"] == "listener"
    assert types["port in"]["host"][0] == {"kind": "hardware", "what": "uses a serial port of this copy's host"}
    assert types["db"]["effect"][0]["class"] == "database" and types["db"]["host"][0]["kind"] == "disk"
    assert types["mail in"]["source"][0] == {"kind": "every-copy", "class": "poll", "what": "polls over an IMAP client on a timer"}


def test_a_node_with_no_evidence_is_neutral_and_says_why(tmp_path):
    root = _package(tmp_path / "p", {
        "demo.js": "module.exports = function (RED) {\n  function Up(n) { RED.nodes.createNode(this, n); this.on('input', (m) => { m.payload = String(m.payload).toUpperCase(); this.send(m); }); }\n  RED.nodes.registerType('upper', Up);\n};\n",
        "demo.html": _editor(("upper", "{inputs: 1, outputs: 1}")),
    })
    types, text = _entries(root)
    assert types["upper"] == {"doc": types["upper"]["doc"], "neutral": True}
    assert "no timer, connection, server, file write, device or session found" in text


def test_types_registered_by_a_required_file_and_a_settable_input(tmp_path):
    root = _package(tmp_path / "p", {
        "index.js": "module.exports = function (RED) {\n    require('./lib/poller')(RED);\n};\n",
        "lib/poller.js": (
            "const axios = require('axios');\n"
            "module.exports = function (RED) {\n"
            "    function Poller(n) {\n"
            "        RED.nodes.createNode(this, n);\n"
            "        const node = this;\n"
            "        this.on('input', () => axios.get(n.url).then((r) => node.send({payload: r.data})));\n"
            "        if (n.inputs === 0) { setInterval(() => node.emit('input', {}), n.interval * 1000); }\n"
            "    }\n"
            "    RED.nodes.registerType('web poller', Poller);\n"
            "};\n"
        ),
        "index.html": _editor(("web poller", "{defaults: {url: {value: ''}, interval: {value: 60}, inputs: {value: 0}}, inputs: 0, outputs: 1}")),
    }, nodes={"web": "index.js"})
    module = read_module(root)
    assert [(t.name, t.file, t.line) for t in module.types] == [("web poller", "lib/poller.js", 9)]
    types, text = _entries(root)
    assert types["web poller"]["source"][0] == {"kind": "every-copy", "class": "poll", "what": "polls over an HTTP client ({f[url]}) every {f[interval]}"}
    # `inputs` is a setting: the input's effect is drafted too, and the reviewer is told why
    assert types["web poller"]["effect"][0]["class"] == "call"
    assert "# REVIEW: its inputs count is a setting (defaults.inputs)" in text
    # a node set's editor is the .html beside the file package.json lists, as Node-RED loads it
    assert module.warnings == []
    assert module.types[0].editor_file == "index.html" and list(module.types[0].defaults) == ["url", "interval", "inputs"]


def test_a_syntax_error_is_a_warning_not_a_failure(tmp_path):
    root = _package(tmp_path / "p", {
        "demo.js": TIMER_JS + "function broken( {\n",
        "demo.html": _editor(("tick", "{inputs: 0, outputs: 1}")),
    })
    module = read_module(root)
    assert [t.name for t in module.types] == ["tick"]
    assert len(module.warnings) == 1 and module.warnings[0].startswith("demo.js: syntax error at line 11")
    proc = run_cli("catalogue", "draft", str(root))
    assert proc.returncode == 0
    assert "hacheck: warning: demo.js: syntax error at line 11" in proc.err
    assert "# WARNING: demo.js: syntax error at line 11" in proc.out


def test_a_missing_editor_file_is_a_warning_in_the_draft(tmp_path):
    root = _package(tmp_path / "p", {"demo.js": TIMER_JS})
    module = read_module(root)
    assert module.warnings == ["demo.js: no demo.html beside it: inputs, outputs and defaults unknown"]
    types, text = _entries(root)
    assert "# WARNING: demo.js: no demo.html beside it" in text
    assert types["tick"]["source"][0]["class"] == "timer"  # outputs unknown: still a guess, for review


@pytest.mark.parametrize(("setup", "message"), [
    (lambda p: p.write_text("x"), "not a directory"),
    (lambda p: p.mkdir(), "no package.json: not an npm package folder"),
    (lambda p: (p.mkdir(), (p / "package.json").write_text("{nope")), "package.json: not valid JSON"),
    (lambda p: (p.mkdir(), (p / "package.json").write_text('{"name": "x"}')), "no `node-red.nodes` section"),
    (lambda p: _package(p, {}), "node-red.nodes.demo: 'demo.js' not found"),
    (lambda p: _package(p, {"demo.js": "", "x": ""}, nodes={"demo": "../outside.js"}), "is outside the package folder"),
    (lambda p: (_package(p, {}), (p / "demo.js").write_bytes(b"\xff\xfe RED.nodes.registerType")), "demo.js: not UTF-8 text"),
    (lambda p: _package(p, {"demo.js": "module.exports = function (RED) {};\n"}), "no RED.nodes.registerType call"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, setup, message):
    target = tmp_path / "pkg"
    setup(target)
    with pytest.raises(ModuleError, match=message.replace("(", r"\(").replace("`", ".")):
        read_module(target)
    proc = run_cli("catalogue", "draft", str(target))
    assert proc.returncode == 2
    assert_clean_error(proc, message)
    assert proc.err.count("\n") == 1 and proc.err.startswith("hacheck: error: ")
    assert proc.out == ""


def test_cli_writes_the_file_with_o_and_stdout_without(tmp_path):
    root = _package(tmp_path / "p", {"demo.js": TIMER_JS, "demo.html": _editor(("tick", "{inputs: 0, outputs: 1}"))})
    out = tmp_path / "draft.yaml"
    proc = run_cli("catalogue", "draft", str(root), "-o", str(out))
    assert proc.returncode == 0, proc.err
    assert "wrote a draft of 1 node type of node-red-contrib-demo" in proc.err and proc.out == ""
    proc = run_cli("catalogue", "draft", str(root))
    assert proc.returncode == 0 and proc.out == out.read_text("utf-8")
    assert check_draft(proc.out)["types"]["tick"]["source"][0]["class"] == "timer"


# --------------------------------------------------------------------------------------------
# real modules from npm (scripts/install-deps)

# (package, version pinned in scripts/install-deps, every type it registers)
REAL = {
    "node-red-contrib-bigtimer": ("2.8.6", ["bigtimer"]),
    "node-red-contrib-cron-plus": ("1.5.7", ["cronplus"]),
    "node-red-node-serialport": ("2.0.3", ["serial-port", "serial out", "serial in", "serial request", "serial control"]),
    "node-red-node-email": ("5.2.5", ["e-mail", "e-mail in", "e-mail mta"]),
    "node-red-contrib-modbus": ("5.60.2", [
        "modbus-client", "modbus-response", "modbus-read", "modbus-getter", "modbus-flex-getter", "modbus-write",
        "modbus-flex-write", "modbus-server", "modbus-queue-info", "modbus-flex-connector", "modbus-io-config",
        "modbus-response-filter", "modbus-flex-sequencer", "modbus-flex-fc",
    ]),
    "node-red-contrib-telegrambot": ("19.0.1", [
        "telegram bot", "telegram receiver", "telegram command", "telegram event", "telegram sender",
        "telegram reply", "telegram control",
    ]),
    "node-red-node-sqlite": ("1.1.1", ["sqlitedb", "sqlite"]),
    "node-red-contrib-aedes": ("0.6.0", ["aedes broker"]),
}

# (package, type, axis, the guessed entry's kind and class, evidence: (kind, file, line, text at
# that line of the file, words of the comment))
EXPECTED = [
    ("node-red-contrib-bigtimer", "bigtimer", "source", ("every-copy", "scheduler"),
     [("timer", "bigtimer.js", 376, "setInterval(", "setInterval()"),
      ("scheduler", "bigtimer.js", 248, "SunCalc.getTimes(", "SunCalc.getTimes(): sun times")]),
    ("node-red-contrib-cron-plus", "cronplus", "source", ("every-copy", "scheduler"),
     [("scheduler", "cronplus.js", 1148, "new cronosjs.CronosTask(", "new cronosjs.CronosTask(): a cron library")]),
    ("node-red-contrib-cron-plus", "cronplus", "host", ("disk", None),
     [("disk", "cronplus.js", 1236, "fs.writeFileSync(", "fs.writeFileSync(): changes a file")]),
    ("node-red-node-serialport", "serial-port", "host", ("hardware", None),
     [("hardware", "25-serial.js", 426, "new SerialPort(", "new SerialPort(): a serial port")]),
    ("node-red-node-serialport", "serial in", "source", ("every-copy", "listener"),
     [("hardware", "25-serial.js", 426, "new SerialPort(", "new SerialPort(): a serial port")]),
    ("node-red-node-serialport", "serial out", "effect", ("outbound", "command"),
     [("hardware", "25-serial.js", 426, "new SerialPort(", "new SerialPort(): a serial port")]),
    ("node-red-node-email", "e-mail", "effect", ("outbound", "notify"),
     [("client", "61-email.js", 84, "nodemailer.createTransport(", "nodemailer.createTransport(): an SMTP client")]),
    ("node-red-node-email", "e-mail in", "source", ("every-copy", "poll"),
     [("timer", "61-email.js", 735, "setTimeout(", "setTimeout() whose callback sends a message"),
      ("client", "61-email.js", 420, "new Imap(", "new Imap(): an IMAP client")]),
    ("node-red-node-email", "e-mail in", "effect", ("outbound", "write"),
     [("client", "61-email.js", 420, "new Imap(", "new Imap(): an IMAP client")]),
    ("node-red-node-email", "e-mail mta", "host", ("port", None),
     [("server", "61-email.js", 873, ".listen(", "node.mta.listen()")]),
    ("node-red-contrib-modbus", "modbus-read", "source", ("every-copy", "poll"),
     [("timer", "modbus/modbus-read.js", 1, "setInterval(", "setInterval()"),
      ("client", "modbus/modbus-client.js", 1, "@openp4nr/modbus-serial", "a Modbus client, through its config node `server` (modbus-client)")]),
    ("node-red-contrib-modbus", "modbus-server", "host", ("port", None),
     [("server", "modbus/modbus-server.js", 1, "new i.Server", "new i.Server(): a TCP server")]),
    ("node-red-contrib-telegrambot", "telegram bot", "session", ("exclusive", None),
     [("session", "telegrambot/nodes/bot-node.js", 12, "require('node-telegram-bot-api')", "require('node-telegram-bot-api'): a Telegram bot client"),
      ("session", "telegrambot/nodes/bot-node.js", 448, "polling: polling", "polling: polling (the bot polls for updates")]),
    ("node-red-contrib-telegrambot", "telegram receiver", "source", ("every-copy", "event-stream"),
     [("session", "telegrambot/nodes/bot-node.js", 12, "node-telegram-bot-api", "through its config node `bot` (telegram bot)")]),
    ("node-red-node-sqlite", "sqlitedb", "host", ("disk", None),
     [("database", "sqlite.js", 18, "new sqlite3.Database(", "new sqlite3.Database(): SQLite (a local database file)")]),
    ("node-red-node-sqlite", "sqlite", "effect", ("state", "database"),
     [("database", "sqlite.js", 18, "new sqlite3.Database(", "through its config node `mydb` (sqlitedb)")]),
    ("node-red-contrib-aedes", "aedes broker", "host", ("port", None),
     [("server", "aedes.js", 86, "net.createServer(", "net.createServer(): a TCP server")]),
]


def test_the_real_modules_are_the_ones_install_deps_pins():
    script = (REPO / "scripts" / "install-deps").read_text("utf-8")
    pinned = script.split("DRAFT_MODULES=(", 1)[1].split(")", 1)[0].split()
    assert pinned == [f"{name}@{version}" for name, (version, _) in REAL.items()]


@pytest.fixture(scope="session")
def npm_modules() -> Path:
    """The pinned modules, or a skip that says how to install them (a failure under CI=true)."""
    wrong = [f"{name} {version}" for name, (version, _) in REAL.items() if _version(name) != version]
    if not wrong:
        return MODULES
    why = f"{', '.join(wrong)} not installed in {MODULES}: run bash scripts/install-deps"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{why} (CI=true: the catalogue draft's real-module tests must run in CI)", pytrace=False)
    pytest.skip(why)


def _version(name: str) -> str | None:
    try:
        return json.loads((MODULES / name / "package.json").read_text("utf-8")).get("version")
    except (OSError, ValueError):
        return None


@pytest.mark.parametrize("name", list(REAL))
def test_real_module_draft_names_every_type_and_validates(npm_modules, name):
    proc = run_cli("catalogue", "draft", str(npm_modules / name))
    assert proc.returncode == 0, proc.err
    data = check_draft(proc.out)
    assert data["package"] == name
    assert list(data["types"]) == REAL[name][1]
    validate_types(data["types"], "effects")


@pytest.mark.parametrize(("name", "type_", "axis", "entry", "evidence"), EXPECTED,
                         ids=[f"{t}-{a}" for _, t, a, _, _ in EXPECTED])
def test_real_module_draft_claims_with_evidence(npm_modules, name, type_, axis, entry, evidence):
    text = draft(read_module(npm_modules / name))
    first = check_draft(text)["types"][type_][axis][0]
    kind, cls = entry
    assert first["kind"] == kind and first.get("class") == cls, first
    block = _block(text, type_)
    for ev_kind, rel, line, code, words in evidence:
        # the line really holds that code (minified files: the one long line)
        assert code in (npm_modules / name / rel).read_text("utf-8").splitlines()[line - 1]
        comment = next((c for c in block if c.startswith(f"# {ev_kind}: {rel}:{line} ")), None)
        assert comment is not None, (rel, line, block)
        assert words in comment, comment


def _block(text: str, type_: str) -> list[str]:
    """The stripped comment lines of one type's entry in the draft."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            inside = line.strip() == f"{json.dumps(type_)}:"
            continue
        if inside and line.strip().startswith("#"):
            out.append(line.strip())
    return out
