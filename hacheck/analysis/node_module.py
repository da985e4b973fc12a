"""What an installed Node-RED module's code says about its node types, for `hacheck catalogue
draft` (hacheck/effects/draft.py turns these facts into draft catalogue entries).

`read_module(directory)` reads package.json's `node-red.nodes`, each node's .js and the .html
beside it (Node-RED loads the .html of the same base name), and parses the JavaScript with
tree-sitter: the .js files as programs, and each `<script type="text/javascript">` of the .html
(found with the standard library's HTML parser) as a program too. It finds:

- the types each .js registers (`X.nodes.registerType(name, constructor)`, whatever the
  parameter holding RED is called: minified modules call it `s`) and the code of each
  constructor: an inline function or class, a function or class of the file by name, or another
  file of the package (`const N = require('./nodes/x')(RED)`);
- from the editor script, per type: `category`, `defaults` (value, config node type,
  required), `credentials`, `inputs`, `outputs`;
- evidence, each with its file and line: timers (`setInterval`, a `setTimeout` whose callback
  sends, `emit("input")` on itself), scheduler libraries (cron, sun times), client libraries
  and connections (`mqtt`, `net.connect`, HTTP clients, database drivers, `new WebSocket`),
  servers (`.listen()`, `createServer`, `RED.httpNode` routes), file writes (`fs.write*`,
  `append*`, `unlink`, ...), local databases (sqlite), hardware libraries (serial ports, GPIO,
  I2C, Bluetooth, USB), sessions (bot libraries and their `polling` option, a `clientId`).

A library counts where the name it is bound to is used (`new sqlite3.Database(...)` inside
one constructor), not where it is required, unless it is never used by name. Evidence inside a
constructor is its type's; evidence elsewhere in the file (helpers, pools shared by the file's
types) is every type's of the file and is marked `shared`; a local file the constructor's file
requires is read too and its evidence marked `via` it. Calls are recognised by their shape in
the tree, so comments and strings never count; what a value holds at run time is not followed
(an alias of `fs` made by a function call, a library loaded by a computed name).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from hacheck.analysis.js import Program, parse_program

__all__ = ["Evidence", "Default", "NodeType", "Module", "ModuleError", "read_module", "LIBRARIES"]

# What a library on npm is, for the draft: (evidence kind, a few words, the effect class of a
# message sent through it). Kinds: client (a connection to a service), server (listens on the
# host), database (a database in a local file), hardware (a device of the host), scheduler
# (cron or sun times), session (a bot: one session per token). Only the package's name counts
# (`@serialport/stream` is looked up as itself, `lodash/fp` as `lodash`).
LIBRARIES: dict[str, tuple[str, str, str]] = {
    # messaging
    "mqtt": ("client", "an MQTT client", "publish"),
    "async-mqtt": ("client", "an MQTT client", "publish"),
    "amqplib": ("client", "an AMQP client", "publish"),
    "amqp-connection-manager": ("client", "an AMQP client", "publish"),
    "rhea": ("client", "an AMQP client", "publish"),
    "kafkajs": ("client", "a Kafka client", "publish"),
    "node-rdkafka": ("client", "a Kafka client", "publish"),
    "nats": ("client", "a NATS client", "publish"),
    "socket.io-client": ("client", "a Socket.IO client", "publish"),
    "websocket-stream": ("client", "a WebSocket stream", "publish"),
    "home-assistant-js-websocket": ("client", "a Home Assistant client", "call"),
    # databases on a server
    "redis": ("client", "a Redis client", "write"),
    "ioredis": ("client", "a Redis client", "write"),
    "pg": ("client", "a PostgreSQL client", "write"),
    "mysql": ("client", "a MySQL client", "write"),
    "mysql2": ("client", "a MySQL client", "write"),
    "mariadb": ("client", "a MariaDB client", "write"),
    "mongodb": ("client", "a MongoDB client", "write"),
    "mongoose": ("client", "a MongoDB client", "write"),
    "mssql": ("client", "an SQL Server client", "write"),
    "tedious": ("client", "an SQL Server client", "write"),
    "oracledb": ("client", "an Oracle client", "write"),
    "cassandra-driver": ("client", "a Cassandra client", "write"),
    "influx": ("client", "an InfluxDB client", "write"),
    "@influxdata/influxdb-client": ("client", "an InfluxDB client", "write"),
    "@elastic/elasticsearch": ("client", "an Elasticsearch client", "write"),
    "aedes-persistence-mongodb": ("client", "a MongoDB client", "write"),
    # mail, HTTP and other services
    "nodemailer": ("client", "an SMTP client", "notify"),
    "imap": ("client", "an IMAP client", "write"),
    "imapflow": ("client", "an IMAP client", "write"),
    "node-pop3": ("client", "a POP3 client", "write"),
    "axios": ("client", "an HTTP client", "call"),
    "got": ("client", "an HTTP client", "call"),
    "node-fetch": ("client", "an HTTP client", "call"),
    "request": ("client", "an HTTP client", "call"),
    "undici": ("client", "an HTTP client", "call"),
    "superagent": ("client", "an HTTP client", "call"),
    "needle": ("client", "an HTTP client", "call"),
    "ssh2": ("client", "an SSH client", "run"),
    "basic-ftp": ("client", "an FTP client", "write"),
    "ftp": ("client", "an FTP client", "write"),
    "ssh2-sftp-client": ("client", "an SFTP client", "write"),
    "twilio": ("client", "a Twilio client", "notify"),
    "@slack/web-api": ("client", "a Slack client", "notify"),
    # industrial protocols
    "modbus-serial": ("client", "a Modbus client", "command"),
    "@openp4nr/modbus-serial": ("client", "a Modbus client", "command"),
    "jsmodbus": ("client", "a Modbus client", "command"),
    "nodes7": ("client", "an S7 PLC client", "command"),
    "node-snap7": ("client", "an S7 PLC client", "command"),
    "node-opcua": ("client", "an OPC UA client", "command"),
    "node-opcua-client": ("client", "an OPC UA client", "command"),
    "ads-client": ("client", "a Beckhoff ADS client", "command"),
    "st-ethernet-ip": ("client", "an EtherNet/IP client", "command"),
    "ethernet-ip": ("client", "an EtherNet/IP client", "command"),
    "mcprotocol": ("client", "an MC protocol PLC client", "command"),
    "knx": ("client", "a KNX client", "command"),
    "knxultimate": ("client", "a KNX client", "command"),
    "bacstack": ("client", "a BACnet client", "command"),
    "node-bacnet": ("client", "a BACnet client", "command"),
    # servers
    "smtp-server": ("server", "an SMTP server", ""),
    "express": ("server", "an HTTP server", ""),
    "aedes": ("server", "an MQTT broker", ""),
    "mosca": ("server", "an MQTT broker", ""),
    "socket.io": ("server", "a Socket.IO server", ""),
    "coap": ("server", "a CoAP server", ""),
    # a database in a local file
    "sqlite3": ("database", "SQLite (a local database file)", ""),
    "better-sqlite3": ("database", "SQLite (a local database file)", ""),
    "sqlite": ("database", "SQLite (a local database file)", ""),
    "@seald-io/nedb": ("database", "NeDB (a local database file)", ""),
    "nedb": ("database", "NeDB (a local database file)", ""),
    "lowdb": ("database", "lowdb (a local JSON file)", ""),
    "node-json-db": ("database", "node-json-db (a local JSON file)", ""),
    "level": ("database", "LevelDB (a local database folder)", ""),
    "lmdb": ("database", "LMDB (a local database file)", ""),
    # hardware of the host
    "serialport": ("hardware", "a serial port", "command"),
    "@serialport/stream": ("hardware", "a serial port", "command"),
    "@serialport/bindings-cpp": ("hardware", "a serial port", "command"),
    "onoff": ("hardware", "GPIO", "command"),
    "pigpio": ("hardware", "GPIO (pigpio)", "command"),
    "pigpio-client": ("hardware", "GPIO (pigpiod)", "command"),
    "rpio": ("hardware", "GPIO", "command"),
    "rpi-gpio": ("hardware", "GPIO", "command"),
    "i2c-bus": ("hardware", "an I2C bus", "command"),
    "spi-device": ("hardware", "an SPI device", "command"),
    "noble": ("hardware", "Bluetooth LE", "command"),
    "@abandonware/noble": ("hardware", "Bluetooth LE", "command"),
    "bleno": ("hardware", "Bluetooth LE", "command"),
    "@abandonware/bleno": ("hardware", "Bluetooth LE", "command"),
    "node-ble": ("hardware", "Bluetooth LE", "command"),
    "bluetooth-serial-port": ("hardware", "a Bluetooth serial port", "command"),
    "usb": ("hardware", "a USB device", "command"),
    "node-hid": ("hardware", "a USB HID device", "command"),
    "node-dht-sensor": ("hardware", "a DHT sensor", "command"),
    "johnny-five": ("hardware", "a board (Johnny-Five)", "command"),
    # schedules
    "node-cron": ("scheduler", "a cron library", ""),
    "cron": ("scheduler", "a cron library", ""),
    "node-schedule": ("scheduler", "a scheduling library", ""),
    "croner": ("scheduler", "a cron library", ""),
    "cronosjs": ("scheduler", "a cron library", ""),
    "later": ("scheduler", "a scheduling library", ""),
    "@breejs/later": ("scheduler", "a scheduling library", ""),
    "suncalc": ("scheduler", "sun times (suncalc)", ""),
    "suncalc2": ("scheduler", "sun times (suncalc)", ""),
    "suncalc3": ("scheduler", "sun times (suncalc)", ""),
    # bots: one session per token
    "node-telegram-bot-api": ("session", "a Telegram bot client", "notify"),
    "telegraf": ("session", "a Telegram bot client", "notify"),
    "grammy": ("session", "a Telegram bot client", "notify"),
    "discord.js": ("session", "a Discord bot client", "notify"),
    "whatsapp-web.js": ("session", "a WhatsApp Web session", "notify"),
    "@whiskeysockets/baileys": ("session", "a WhatsApp Web session", "notify"),
}

_FS = frozenset(("fs", "fs/promises", "fs-extra", "graceful-fs", "jsonfile"))
# the fs methods (and fs-extra's) that change the disk
_FS_WRITES = frozenset((
    "writeFile", "writeFileSync", "appendFile", "appendFileSync", "createWriteStream",
    "unlink", "unlinkSync", "rm", "rmSync", "rmdir", "rmdirSync", "rename", "renameSync",
    "mkdir", "mkdirSync", "copyFile", "copyFileSync", "truncate", "truncateSync", "write", "writeSync",
    "outputFile", "outputFileSync", "outputJson", "outputJsonSync", "writeJson", "writeJsonSync",
    "writeJSON", "writeJSONSync", "ensureFile", "ensureFileSync", "remove", "removeSync",
    "emptyDir", "emptyDirSync", "move", "moveSync", "copy", "copySync",
))
_HTTP_METHODS = frozenset(("get", "post", "put", "delete", "patch", "all", "use", "head", "options"))
_TIMER_ROOTS = frozenset(("global", "globalThis", "window", "timers"))
_CLIENT_ID_KEYS = frozenset(("clientId", "clientID", "client_id", "clientid"))
_RANDOM_WORDS = ("random", "uuid", "Date.now", "randomBytes", "nanoid", "generateId")
_FUNCTIONS = frozenset(("function_expression", "arrow_function", "function", "class", "generator_function"))
_DECLARATIONS = frozenset(("function_declaration", "class_declaration", "generator_function_declaration"))


@dataclass(frozen=True)
class Evidence:
    kind: str  # timer scheduler client server http-route disk database hardware session self-trigger program
    what: str  # the code, shortened: "setInterval()", "new sqlite3.Database()", "require('mqtt')"
    file: str  # relative to the package folder, with "/"
    line: int
    lib: str = ""  # the npm package it comes from ("" for the language and Node's own modules)
    shared: bool = False  # outside the type's constructor: shared code of the file
    via: str = ""  # read from a local file the constructor's file requires

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Default:
    name: str
    value: str  # the literal as written, shortened ("" when none)
    type: str  # a config node type the field refers to ("" when none)
    required: bool


@dataclass
class NodeType:
    name: str
    file: str  # the .js that registers it
    line: int
    editor_file: str = ""  # the .html whose script registers it ("" when not found)
    editor_line: int = 0
    category: str = ""
    defaults: dict[str, Default] = field(default_factory=dict)
    credentials: tuple[str, ...] = ()
    inputs: int | None = None  # None: not found, or not a number literal
    outputs: int | None = None
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def is_config(self) -> bool:
        return self.category == "config"


@dataclass
class Module:
    name: str
    version: str
    directory: Path
    types: list[NodeType]
    files: list[str]  # every file read, relative to the package
    warnings: list[str]  # what could not be read well, one line each


class ModuleError(Exception):
    """The folder is not a readable Node-RED module; the message is one line naming the file."""


# --------------------------------------------------------------------------------------------
# package.json and files


def read_module(directory: Path) -> Module:
    directory = Path(directory)
    if not directory.is_dir():
        raise ModuleError(f"{directory}: not a directory (give the folder of an installed module, e.g. node_modules/node-red-contrib-x)")
    pkg_path = directory / "package.json"
    if not pkg_path.is_file():
        raise ModuleError(f"{pkg_path}: no package.json: not an npm package folder")
    try:
        pkg = json.loads(_read(pkg_path, pkg_path))
    except json.JSONDecodeError as e:
        raise ModuleError(f"{pkg_path}: not valid JSON: {e.msg} at line {e.lineno}") from None
    if not isinstance(pkg, dict):
        raise ModuleError(f"{pkg_path}: not a JSON object")
    section = pkg.get("node-red")
    nodes = section.get("nodes") if isinstance(section, dict) else None
    if not isinstance(nodes, dict) or not nodes:
        raise ModuleError(f"{pkg_path}: no `node-red.nodes` section: not a Node-RED node module")
    name = str(pkg.get("name") or directory.name)
    version = str(pkg.get("version") or "")
    reader = _Reader(directory.resolve())
    types: list[NodeType] = []
    done: set[str] = set()
    for set_name, rel in nodes.items():
        if not isinstance(rel, str) or not rel.strip():
            raise ModuleError(f"{pkg_path}: node-red.nodes.{set_name}: not a file name")
        js = reader.file(rel, pkg_path, f"node-red.nodes.{set_name}")
        for each in [js, *reader.registering(js)]:  # `require('./lib/x')(RED)` may register too
            if each.rel in done:
                continue
            done.add(each.rel)
            for node in reader.types_of(each, js):
                if any(t.name == node.name for t in types):
                    reader.warnings.append(f"{node.file}:{node.line}: type '{node.name}' is registered again: the first is kept")
                else:
                    types.append(node)
    if not types:
        raise ModuleError(f"{directory}: no RED.nodes.registerType call with a literal type name in the files of node-red.nodes")
    return Module(name, version, directory, types, sorted(reader.files), reader.warnings)


def _read(path: Path, shown: Path | str) -> str:
    try:
        return path.read_text("utf-8")
    except UnicodeDecodeError:
        raise ModuleError(f"{shown}: not UTF-8 text") from None
    except OSError as e:
        raise ModuleError(f"{shown}: cannot read: {e.strerror or e}") from None


def _text(data: bytes, node: Any) -> str:
    return data[node.start_byte:node.end_byte].decode("utf-8", "replace")


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _string(data: bytes, node: Any) -> str | None:
    """The value of a string literal or a template without substitutions."""
    if node is None or node.type not in ("string", "template_string"):
        return None
    if any(c.type == "template_substitution" for c in node.named_children):
        return None
    raw = _text(data, node)
    return raw[1:-1] if len(raw) >= 2 else None


def _package_of(spec: str) -> str:
    """The npm package a require names: `@scope/name/sub` -> `@scope/name`, `node:fs` -> `fs`."""
    spec = spec.removeprefix("node:")
    parts = spec.split("/")
    if spec == "fs/promises":
        return spec
    return "/".join(parts[:2]) if spec.startswith("@") else parts[0]


# --------------------------------------------------------------------------------------------
# one JavaScript file


@dataclass
class _Binding:
    lib: str  # npm package or Node module ("fs", "net")
    members: tuple[str, ...]  # the path taken from the module: ("Server",) for `{Server} = require("ws")`


@dataclass
class _Site:
    start: int  # byte offset, for attribution to a constructor
    evidence: Evidence


class _JsFile:
    """The facts of one .js file that the draft needs, from one walk of its tree."""

    def __init__(self, rel: str, program: Program):
        self.rel = rel
        data = program.data
        self.data = data
        self.functions: dict[str, Any] = {}  # name -> function or class node
        self.strings: dict[str, str] = {}  # const name -> string literal
        self.bindings: dict[str, _Binding] = {}
        self.local_bindings: dict[str, str] = {}  # name -> a local file spec it comes from
        self.local_requires: list[str] = []  # specs of local files (./x), in order
        self.registrations: list[tuple[Any, Any, int]] = []  # (name node, constructor node, line)
        self.sites: list[_Site] = []
        calls: list[Any] = []
        pairs: list[Any] = []
        stack = [program.root]
        while stack:
            node = stack.pop()
            t = node.type
            if t == "call_expression" or t == "new_expression":
                calls.append(node)
            elif t == "variable_declarator":
                self._declarator(node)
            elif t in _DECLARATIONS:
                name = node.child_by_field_name("name")
                if name is not None:
                    self.functions.setdefault(_text(data, name), node)
            elif t == "import_statement":
                self._import(node)
            elif t == "pair":
                pairs.append(node)
            stack.extend(reversed(node.children))
        senders = [c for c in calls if self._sends(c)]
        libs_used: set[str] = set()
        requires: list[tuple[Any, str]] = []
        for call in calls:
            self._call(call, senders, libs_used, requires)
        for call, lib in requires:  # a library never used by name counts where it is required
            if lib not in libs_used and lib in LIBRARIES:
                kind, words, _ = LIBRARIES[lib]
                self._add(call, kind, f"require('{lib}'): {words}", lib)
        bots = any(b.lib in LIBRARIES and LIBRARIES[b.lib][0] == "session" for b in self.bindings.values())
        for pair in pairs:
            self._pair(pair, bots)

    # -- bindings

    def _require_of(self, value: Any) -> tuple[str, tuple[str, ...]] | None:
        """`require("x")`, `require("x").A.B`, `require("./x")(RED)`: the spec and members."""
        members: list[str] = []
        node = value
        while node is not None:
            t = node.type
            if t == "member_expression":
                prop = node.child_by_field_name("property")
                members.append(_text(self.data, prop) if prop is not None else "?")
                node = node.child_by_field_name("object")
            elif t == "await_expression" or t == "parenthesized_expression":
                node = node.named_children[0] if node.named_children else None
            elif t == "call_expression":
                fn = node.child_by_field_name("function")
                if fn is None:
                    return None
                if fn.type == "import" or (fn.type == "identifier" and _text(self.data, fn) == "require"):
                    args = node.child_by_field_name("arguments")
                    spec = _string(self.data, args.named_children[0]) if args is not None and args.named_children else None
                    if spec is None:
                        return None
                    return spec, tuple(reversed(members))
                node = fn  # require("./x")(RED): the call of what it exports
            else:
                return None
        return None

    def _declarator(self, node: Any) -> None:
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        if name is None or value is None:
            return
        if name.type == "identifier":
            ident = _text(self.data, name)
            if value.type in _FUNCTIONS:
                self.functions.setdefault(ident, value)
                return
            lit = _string(self.data, value)
            if lit is not None:
                self.strings.setdefault(ident, lit)
                return
        req = self._require_of(value)
        if req is None:
            return
        spec, members = req
        local = spec.startswith(".")
        if name.type == "identifier":
            if local:
                self.local_bindings[_text(self.data, name)] = spec
            else:
                self.bindings[_text(self.data, name)] = _Binding(_package_of(spec), members)
        elif name.type == "object_pattern" and not local:
            for child in name.named_children:
                if child.type == "shorthand_property_identifier_pattern":
                    key = _text(self.data, child)
                    self.bindings[key] = _Binding(_package_of(spec), members + (key,))
                elif child.type == "pair_pattern":
                    key, val = child.child_by_field_name("key"), child.child_by_field_name("value")
                    if key is not None and val is not None and val.type == "identifier":
                        self.bindings[_text(self.data, val)] = _Binding(_package_of(spec), members + (_text(self.data, key),))

    def _import(self, node: Any) -> None:
        source = node.child_by_field_name("source")
        spec = _string(self.data, source)
        if spec is None:
            return
        if spec.startswith("."):
            self.local_requires.append(spec)
            return
        lib = _package_of(spec)
        clause = next((c for c in node.named_children if c.type == "import_clause"), None)
        for child in clause.named_children if clause is not None else ():
            if child.type == "identifier":
                self.bindings[_text(self.data, child)] = _Binding(lib, ())
            elif child.type == "namespace_import":
                ident = next((c for c in child.named_children if c.type == "identifier"), None)
                if ident is not None:
                    self.bindings[_text(self.data, ident)] = _Binding(lib, ())
            elif child.type == "named_imports":
                for spec_node in child.named_children:
                    names = [c for c in spec_node.named_children if c.type == "identifier"]
                    if names:
                        self.bindings[_text(self.data, names[-1])] = _Binding(lib, (_text(self.data, names[0]),))

    # -- calls

    def _path(self, node: Any) -> list[str]:
        """`a.b.c` -> ["a", "b", "c"]; `this.x` -> ["this", "x"]; an unknown root is "?"."""
        parts: list[str] = []
        for _ in range(12):
            t = node.type
            if t == "identifier":
                parts.append(_text(self.data, node))
                break
            if t == "this":
                parts.append("this")
                break
            if t == "member_expression":
                prop = node.child_by_field_name("property")
                parts.append(_text(self.data, prop) if prop is not None else "?")
                node = node.child_by_field_name("object")
            elif t == "subscript_expression":
                lit = _string(self.data, node.child_by_field_name("index"))
                parts.append(lit if lit is not None else "?")
                node = node.child_by_field_name("object")
            elif t == "parenthesized_expression" and node.named_children:
                node = node.named_children[-1]
            else:
                req = self._require_of(node) if t == "call_expression" else None
                parts.append(f"require:{_package_of(req[0])}" if req is not None and req[0][:1] != "." else "?")
                break
            if node is None:
                parts.append("?")
                break
        return list(reversed(parts))

    def _callee(self, call: Any) -> Any:
        return call.child_by_field_name("function" if call.type == "call_expression" else "constructor")

    def _args(self, call: Any) -> list[Any]:
        args = call.child_by_field_name("arguments")
        return [a for a in args.named_children if a.type != "comment"] if args is not None and args.type == "arguments" else []

    def _sends(self, call: Any) -> bool:
        """`node.send(...)` or `node.emit("input", ...)`: a message leaves the node."""
        if call.type != "call_expression":
            return False
        callee = self._callee(call)
        if callee is None or callee.type != "member_expression":
            return False
        prop = callee.child_by_field_name("property")
        name = _text(self.data, prop) if prop is not None else ""
        if name == "send":
            return True
        if name == "emit":
            args = self._args(call)
            return bool(args) and _string(self.data, args[0]) == "input"
        return False

    def _add(self, node: Any, kind: str, what: str, lib: str = "") -> None:
        line = node.start_point[0] + 1
        self.sites.append(_Site(node.start_byte, Evidence(kind, _short(what, 90), self.rel, line, lib)))

    def _call(self, call: Any, senders: list[Any], libs_used: set[str], requires: list) -> None:
        callee = self._callee(call)
        if callee is None:
            return
        new = call.type == "new_expression"
        if callee.type == "import" or (callee.type == "identifier" and _text(self.data, callee) == "require"):
            args = self._args(call)
            spec = _string(self.data, args[0]) if args else None
            if spec is not None:
                if spec.startswith("."):
                    self.local_requires.append(spec)
                else:
                    requires.append((call, _package_of(spec)))
            return
        path = self._path(callee)
        last = path[-1]
        shown = ("new " if new else "") + ".".join(
            f"require('{p[len('require:'):]}')" if p.startswith("require:") else ("(...)" if p == "?" else p) for p in path
        ) + "()"
        args = self._args(call)
        if not new and last == "registerType" and len(path) >= 2 and path[-2] == "nodes":
            if args:
                self.registrations.append((args[0], args[1] if len(args) > 1 else None, call.start_point[0] + 1))
            return
        head = path[0]
        if head.startswith("require:"):
            self._library(call, head[len("require:"):], (), path[1:], shown, new, libs_used)
            return
        binding = self.bindings.get(head)
        if binding is not None:
            self._library(call, binding.lib, binding.members, path[1:], shown, new, libs_used)
            return
        timer_root = len(path) == 1 or (len(path) == 2 and head in _TIMER_ROOTS)
        if not new and timer_root and last == "setInterval":
            self._add(call, "timer", shown)
        elif not new and timer_root and last == "setTimeout":
            callback = args[0] if args else None
            if callback is not None and callback.type in _FUNCTIONS and any(
                callback.start_byte <= s.start_byte < callback.end_byte for s in senders
            ):
                self._add(call, "timer", "setTimeout() whose callback sends a message")
        elif not new and last == "emit" and len(path) >= 2 and args and _string(self.data, args[0]) == "input":
            self._add(call, "self-trigger", f"{shown[:-2]}(\"input\"): the node sends itself a message")
        elif not new and len(path) >= 3 and path[-2] == "httpNode" and last in _HTTP_METHODS:
            route = _string(self.data, args[0]) if args else None
            self._add(call, "http-route", shown + (f" route {route}" if route else ""))
        elif not new and last == "listen" and len(path) >= 2:
            self._add(call, "server", shown)
        elif not new and len(path) == 1 and last == "fetch":
            self._add(call, "client", "fetch(): an HTTP request")
        elif new and len(path) == 1 and last == "WebSocket":
            self._add(call, "client", "new WebSocket(): a WebSocket client")

    def _library(self, call: Any, lib: str, members: tuple[str, ...], rest: list[str], shown: str, new: bool, libs_used: set[str]) -> None:
        """A call or `new` through a name bound to a module."""
        libs_used.add(lib)
        full = list(members) + rest
        last = full[-1] if full else ""
        if lib in _FS:
            if last in _FS_WRITES:
                self._add(call, "disk", f"{shown}: changes a file")
            return
        if lib in ("net", "tls"):
            if last in ("connect", "createConnection", "Socket", "TLSSocket"):
                self._add(call, "client", f"{shown}: a {lib.upper() if lib == 'tls' else 'TCP'} connection")
            elif last in ("createServer", "Server"):
                self._add(call, "server", f"{shown}: a {lib.upper() if lib == 'tls' else 'TCP'} server")
            return
        if lib in ("http", "https", "http2"):
            if last in ("request", "get", "connect"):
                self._add(call, "client", f"{shown}: an HTTP request")
            elif last in ("createServer", "createSecureServer", "Server"):
                self._add(call, "server", f"{shown}: an HTTP server")
            return
        if lib == "dgram":
            if last == "createSocket":
                self._add(call, "client", f"{shown}: a UDP socket (bound to a port, it listens: check)")
            return
        if lib == "child_process":
            if last.startswith(("exec", "spawn", "fork")):
                self._add(call, "program", f"{shown}: runs a program on the host")
            return
        if lib == "ws":
            if last in ("Server", "WebSocketServer"):
                self._add(call, "server", f"{shown}: a WebSocket server")
            elif new:
                self._add(call, "client", f"{shown}: a WebSocket client")
            return
        if lib in LIBRARIES:
            kind, words, _ = LIBRARIES[lib]
            if kind == "client" and any(p.lower() in ("server", "createserver", "createsecureserver") for p in full):
                kind, words = "server", f"a server ({words.removeprefix('a ').removeprefix('an ')} library)"
            self._add(call, kind, f"{shown}: {words}", lib)

    def _pair(self, pair: Any, bots: bool) -> None:
        key = pair.child_by_field_name("key")
        value = pair.child_by_field_name("value")
        if key is None or value is None:
            return
        name = _string(self.data, key) if key.type == "string" else _text(self.data, key)
        text = _text(self.data, value)
        if name in _CLIENT_ID_KEYS and not any(w in text for w in _RANDOM_WORDS) and text not in ("undefined", "null", '""', "''"):
            self._add(pair, "session", f"{name}: {_short(text, 40)} (a client id that may be the same in every copy)")
        elif name == "polling" and bots and text not in ("false", "undefined", "null", "0"):
            self._add(pair, "session", f"polling: {_short(text, 40)} (the bot polls for updates: one poller per token)")


# --------------------------------------------------------------------------------------------
# the editor's script


class _Scripts(HTMLParser):
    """The `<script>` blocks that hold JavaScript, with the line each starts on."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.blocks: list[tuple[int, str]] = []
        self._start: int | None = None
        self._parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag != "script":
            return
        kind = (dict(attrs).get("type") or "text/javascript").strip().lower()
        if kind in ("text/javascript", "application/javascript", "module"):
            line, _ = self.getpos()
            self._start = line + (self.get_starttag_text() or "").count("\n")
            self._parts = []

    def handle_data(self, data: str) -> None:
        if self._start is not None:
            self._parts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._start is not None:
            self.blocks.append((self._start, "".join(self._parts)))
            self._start = None


@dataclass
class _EditorDef:
    line: int
    category: str = ""
    defaults: dict[str, Default] = field(default_factory=dict)
    credentials: tuple[str, ...] = ()
    inputs: int | None = None
    outputs: int | None = None


def _editor_defs(rel: str, html: str, warnings: list[str]) -> dict[str, _EditorDef]:
    parser = _Scripts()
    try:
        parser.feed(html)
        parser.close()
    except Exception as e:  # html.parser is lenient; a failure here is a bug worth one line, not a crash
        warnings.append(f"{rel}: cannot read its HTML: {e}")
        return {}
    out: dict[str, _EditorDef] = {}
    for first_line, script in parser.blocks:
        if "registerType" not in script:
            continue
        program = parse_program(script)
        if program is None:
            warnings.append(f"{rel}: the script at line {first_line} is too large to parse in time")
            continue
        if program.error:
            warnings.append(f"{rel}: syntax error in the script at line {first_line}, {program.error} (of the script): defaults may be incomplete")
        stack = [program.root]
        while stack:
            node = stack.pop()
            stack.extend(reversed(node.children))
            if node.type != "call_expression":
                continue
            fn = node.child_by_field_name("function")
            if fn is None or fn.type != "member_expression" or not _text(program.data, fn).replace(" ", "").endswith("nodes.registerType"):
                continue
            args = node.child_by_field_name("arguments")
            named = [a for a in args.named_children if a.type != "comment"] if args is not None else []
            name = _string(program.data, named[0]) if named else None
            if name is None or len(named) < 2 or named[1].type != "object":
                continue
            out[name] = _editor_def(program.data, named[1], first_line + node.start_point[0])
    return out


def _props(data: bytes, obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in obj.named_children:
        if pair.type != "pair":
            continue
        key = pair.child_by_field_name("key")
        value = pair.child_by_field_name("value")
        if key is None or value is None:
            continue
        name = _string(data, key) if key.type == "string" else _text(data, key)
        if name is not None:
            out[name] = value
    return out


def _number(data: bytes, node: Any) -> int | None:
    if node is None or node.type != "number":
        return None
    try:
        return int(_text(data, node), 0)
    except ValueError:
        return None


def _editor_def(data: bytes, obj: Any, line: int) -> _EditorDef:
    props = _props(data, obj)
    d = _EditorDef(line)
    d.category = _string(data, props.get("category")) or ""
    d.inputs = _number(data, props.get("inputs")) if "inputs" in props else 0
    d.outputs = _number(data, props.get("outputs")) if "outputs" in props else 0
    defaults = props.get("defaults")
    if defaults is not None and defaults.type == "object":
        for name, spec in _props(data, defaults).items():
            fields = _props(data, spec) if spec.type == "object" else {}
            value = fields.get("value")
            d.defaults[name] = Default(
                name,
                _short(_text(data, value), 40) if value is not None else "",
                _string(data, fields.get("type")) or "",
                _text(data, fields["required"]) == "true" if "required" in fields else False,
            )
    creds = props.get("credentials")
    if creds is not None and creds.type == "object":
        d.credentials = tuple(_props(data, creds))
    return d


# --------------------------------------------------------------------------------------------
# the package


class _Reader:
    def __init__(self, root: Path):
        self.root = root
        self.files: set[str] = set()
        self.warnings: list[str] = []
        self._js: dict[str, _JsFile] = {}
        self._html: dict[str, dict[str, _EditorDef] | None] = {}

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def file(self, rel: str, from_: Path | str, what: str) -> _JsFile:
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):
            raise ModuleError(f"{from_}: {what}: '{rel}' is outside the package folder")
        if not path.is_file():
            raise ModuleError(f"{from_}: {what}: '{rel}' not found in {self.root}")
        return self._parse(path)

    def _parse(self, path: Path) -> _JsFile:
        rel = self._rel(path)
        if rel in self._js:
            return self._js[rel]
        source = _read(path, path)
        program = parse_program(source)
        if program is None:
            raise ModuleError(f"{path}: too large or too malformed to parse in time")
        if program.error:
            self.warnings.append(f"{rel}: syntax error at {program.error}: what follows it may be missed")
        self.files.add(rel)
        js = _JsFile(rel, program)
        self._js[rel] = js
        return js

    def _local(self, base: _JsFile, spec: str) -> _JsFile | None:
        """The package file a local require names (`./x`, `./x.js`, `./x/index.js`)."""
        start = (self.root / base.rel).parent
        for candidate in (spec, spec + ".js", spec + "/index.js", spec + ".cjs"):
            path = (start / candidate).resolve()
            if path.is_file() and path.is_relative_to(self.root) and path.suffix in (".js", ".cjs", ".mjs"):
                try:
                    return self._parse(path)
                except ModuleError as e:
                    self.warnings.append(f"{e} (required by {base.rel})")
                    return None
        return None

    def _via(self, js: _JsFile, skip: set[str]) -> list[Evidence]:
        """The evidence of the local files `js` requires, transitively, except `skip`."""
        out: list[Evidence] = []
        for dep in self._required(js, skip, depth_first=True):
            out.extend(_with(s.evidence, via=dep.rel) for s in dep.sites)
        return out

    def _required(self, js: _JsFile, skip: set[str], depth_first: bool):
        """The local files `js` requires, transitively, each once, except those in `skip`."""
        seen = set(skip) | {js.rel}
        todo = [js]
        while todo:
            cur = todo.pop() if depth_first else todo.pop(0)
            for spec in cur.local_requires:
                dep = self._local(cur, spec)
                if dep is None or dep.rel in seen:
                    continue
                seen.add(dep.rel)
                todo.append(dep)
                yield dep

    def registering(self, js: _JsFile) -> list[_JsFile]:
        """The local files `js` requires (transitively) that register types themselves."""
        return [dep for dep in self._required(js, set(), depth_first=False) if dep.registrations]

    def _editor(self, listed: _JsFile) -> tuple[str, dict[str, _EditorDef] | None]:
        """The editor definitions of a node set: its .html is the one beside its listed .js, for
        the types of every file the set loads; None when there is no such file."""
        html_rel = Path(listed.rel).with_suffix(".html").as_posix()
        if html_rel not in self._html:
            html_path = self.root / html_rel
            if html_path.is_file():
                self._html[html_rel] = _editor_defs(html_rel, _read(html_path, html_path), self.warnings)
                self.files.add(html_rel)
            else:
                self._html[html_rel] = None
                self.warnings.append(f"{listed.rel}: no {html_rel} beside it: inputs, outputs and defaults unknown")
        return html_rel, self._html[html_rel]

    def types_of(self, js: _JsFile, listed: _JsFile) -> list[NodeType]:
        """The types `js` registers, with the editor definitions of the set `listed` loads."""
        html_rel, defs = self._editor(listed)
        editor = defs or {}
        regs: list[tuple[str, int, tuple[int, int] | None, _JsFile | None]] = []
        for name_node, ctor, line in js.registrations:
            name = _string(js.data, name_node)
            if name is None and name_node.type == "identifier":
                name = js.strings.get(_text(js.data, name_node))
            if name is None:
                self.warnings.append(f"{js.rel}:{line}: registerType with a type name that is not a literal: skipped")
                continue
            span, other = self._constructor(js, ctor)
            regs.append((name, line, span, other))
        whole = {o.rel for *_, o in regs if o is not None}
        shared_via = self._via(js, whole)
        out: list[NodeType] = []
        for name, line, span, other in regs:
            ev: list[Evidence] = []
            for site in js.sites:
                inside = span is not None and span[0] <= site.start < span[1]
                if inside:
                    ev.append(site.evidence)
                elif not any(s is not None and s[0] <= site.start < s[1] for _, _, s, _ in regs):
                    ev.append(_with(site.evidence, shared=True))
            if other is not None:
                ev.extend(s.evidence for s in other.sites)
                ev.extend(self._via(other, {js.rel} | whole))
            ev.extend(shared_via)
            node = NodeType(name, js.rel, line, evidence=_dedupe(ev))
            d = editor.get(name)
            if d is not None:
                node.editor_file, node.editor_line = html_rel, d.line
                node.category, node.defaults, node.credentials = d.category, d.defaults, d.credentials
                node.inputs, node.outputs = d.inputs, d.outputs
            elif defs is not None:
                self.warnings.append(f"{html_rel}: no registerType('{name}', {{...}}) in its scripts: inputs, outputs and defaults unknown")
            out.append(node)
        return out

    def _constructor(self, js: _JsFile, ctor: Any) -> tuple[tuple[int, int] | None, _JsFile | None]:
        """Where a registered constructor's code is: a span of `js`, or a whole other file."""
        if ctor is None:
            return None, None
        if ctor.type in _FUNCTIONS:
            return (ctor.start_byte, ctor.end_byte), None
        if ctor.type == "identifier":
            name = _text(js.data, ctor)
            fn = js.functions.get(name)
            if fn is not None:
                return (fn.start_byte, fn.end_byte), None
            spec = js.local_bindings.get(name)
            if spec is not None:
                return None, self._local(js, spec)
            return None, None
        req = js._require_of(ctor) if ctor.type in ("call_expression", "member_expression") else None
        if req is not None and req[0].startswith("."):
            return None, self._local(js, req[0])
        return None, None


def _with(ev: Evidence, **changes: Any) -> Evidence:
    return replace(ev, **changes)


def _dedupe(evidence: list[Evidence]) -> list[Evidence]:
    seen: set[tuple[str, str, int]] = set()
    out = []
    for e in evidence:
        key = (e.kind, e.file, e.line)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out
