// The runtime side of the hacheck editor plugin: admin routes that check the flows the editor
// sends (its current, undeployed state, without credentials) and answer hacheck's JSON report
// (version 1), the edits that fix one finding, and the rules' documentation. They ask a
// `hacheck serve`: the one settings.js names (hacheck: {url, token}), else one this plugin keeps
// as its child (started on the first request, restarted if it dies, stopped with Node-RED), so
// a check never costs a process start. The rules themselves live only in hacheck: nothing is
// re-implemented here.
"use strict";

const { spawn } = require("child_process");
const crypto = require("crypto");

const INSTALL = "pipx install nodered-hacheck";
const DOCS = "https://github.com/hacheck/hacheck/blob/main/docs/rules.md";
const TIMEOUT_MS = 120000;
const START_MS = 120000; // a first start imports hacheck and loads the catalogue in each worker
const BUSY_RETRIES = 3; // a 503 from serve (every worker busy) is retried after its Retry-After
const MAX_RETRY_AFTER_S = 5;
const TOKEN_ENV = "HACHECK_PLUGIN_TOKEN";

module.exports = function (RED) {
    const conf = RED.settings.hacheck && typeof RED.settings.hacheck === "object" ? RED.settings.hacheck : {};
    const service = conf.url
        ? { via: "serve", endpoint: async () => ({ url: String(conf.url).replace(/\/+$/, ""), token: conf.token }), lost: () => {} }
        : new LocalServe(conf.command || "hacheck", RED.settings.userDir, conf.workers || 2);

    RED.plugins.registerPlugin("hacheck", { type: "hacheck" });

    // flows.read on every route: whoever may see the flows may see what is wrong with them, and
    // the fix route only computes edits (the editor applies them; a deploy needs flows.write)
    const read = RED.auth.needsPermission("flows.read");
    const answer = (res, r) => res.status(r.status).json(Object.assign({ docs: conf.docsUrl || DOCS, via: service.via }, r.answer));

    RED.httpAdmin.post("/hacheck/check", read, async function (req, res) {
        const flows = req.body && Array.isArray(req.body.flows) ? req.body.flows : null;
        if (!flows) {
            return res.status(400).json({ error: "send {flows: [...]}" });
        }
        const r = await ask(service, "POST", "/check?name=flows.json", JSON.stringify(flows));
        answer(res, r.status === 200 ? { status: 200, answer: { report: r.json } } : r);
    });

    RED.httpAdmin.post("/hacheck/fix", read, async function (req, res) {
        const b = req.body || {};
        if (!Array.isArray(b.flows) || typeof b.rule !== "string" || typeof b.node !== "string") {
            return res.status(400).json({ error: "send {flows: [...], rule, node}" });
        }
        const query = "?name=flows.json&rule=" + encodeURIComponent(b.rule) + "&node=" + encodeURIComponent(b.node);
        const r = await ask(service, "POST", "/fix" + query, JSON.stringify(b.flows));
        answer(res, r.status === 200 ? { status: 200, answer: r.json } : r);
    });

    RED.httpAdmin.get("/hacheck/rules", read, async function (req, res) {
        const r = await ask(service, "GET", "/rules");
        answer(res, r.status === 200 ? { status: 200, answer: { rules: r.json } } : r);
    });

    RED.httpAdmin.get("/hacheck/rules/:id", read, async function (req, res) {
        const r = await ask(service, "GET", "/rules/" + encodeURIComponent(req.params.id));
        answer(res, r.status === 200 ? { status: 200, answer: { rule: r.json } } : r);
    });
};

// One request to the service: {status, json} on 200, else {status, answer: {error, ...}}.
// Busy (503) is retried after the Retry-After it gives, a bounded number of times; a local
// service that does not answer is restarted once.
async function ask(service, method, path, body) {
    let restarted = false;
    for (let attempt = 0; ; attempt++) {
        let where;
        try {
            where = await service.endpoint();
        } catch (problem) {
            return problem.status ? problem : { status: 500, answer: { error: String(problem.message || problem) } };
        }
        const headers = { "Content-Type": "application/json" };
        if (where.token) {
            headers.Authorization = "Bearer " + where.token;
        }
        let res;
        try {
            res = await fetch(where.url + path, { method, headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) });
        } catch (err) {
            if (!restarted && service.lost()) {
                restarted = true; // it had died: the next endpoint() starts a new one
                continue;
            }
            return { status: 503, answer: { error: "hacheck serve at " + where.url + " did not answer (" + (err.cause && err.cause.code || err.name) + ")" } };
        }
        if (res.status === 503 && attempt < BUSY_RETRIES) {
            const wait = Math.min(MAX_RETRY_AFTER_S, Math.max(1, parseInt(res.headers.get("retry-after"), 10) || 1));
            await res.arrayBuffer().catch(() => null);
            await new Promise((r) => setTimeout(r, wait * 1000));
            continue;
        }
        if (res.status === 404 && path.startsWith("/rules/")) {
            return { status: 404, answer: { error: "no such rule" } };
        }
        if (res.status !== 200) {
            await res.arrayBuffer().catch(() => null);
            return { status: 502, answer: { error: "hacheck serve at " + where.url + " answered HTTP " + res.status } };
        }
        try {
            return { status: 200, json: await res.json() };
        } catch (err) {
            return { status: 502, answer: { error: "hacheck serve answered something that is not JSON" } };
        }
    }
}

// A `hacheck serve` run as this process's child, on 127.0.0.1 at a port it picks, with a
// random token (another local user cannot use it), its standard input a pipe from here
// (--stop-on-eof: it ends when Node-RED does, even when Node-RED is killed). Its log (one line
// per request: method, path, status, time) is read and dropped, never written anywhere.
class LocalServe {
    constructor(command, cwd, workers) {
        this.command = command;
        this.cwd = cwd || process.cwd();
        this.workers = workers;
        this.via = "local serve";
        this.child = null;
        this.ready = null;
        process.on("exit", () => this.stop());
    }

    endpoint() {
        if (!this.ready) {
            this.ready = this.start();
            this.ready.catch(() => { this.ready = null; }); // the next request tries again
        }
        return this.ready;
    }

    // true when the child was gone (so a retry is worth it)
    lost() {
        if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
            return false;
        }
        this.child = null;
        this.ready = null;
        return true;
    }

    start() {
        const token = crypto.randomBytes(24).toString("hex");
        return new Promise((resolve, reject) => {
            let child;
            const args = ["serve", "--host", "127.0.0.1", "--port", "0", "--token-env", TOKEN_ENV, "--stop-on-eof",
                "--workers", String(this.workers)];
            try {
                // from the userDir: its .hacheck.yaml applies, as to `hacheck check` run there
                child = spawn(this.command, args, { cwd: this.cwd, env: Object.assign({}, process.env, { [TOKEN_ENV]: token }),
                    stdio: ["pipe", "ignore", "pipe"] });
            } catch (e) {
                return reject(notInstalled(this.command));
            }
            this.child = child;
            let seen = "";
            let listening = false;
            const timer = setTimeout(() => {
                if (!listening) {
                    child.kill("SIGKILL");
                    reject({ status: 500, answer: { error: this.command + " serve did not start within " + START_MS / 1000 + " s" } });
                }
            }, START_MS);
            child.stdin.on("error", () => {}); // it exited: reported by 'exit'
            child.stderr.on("data", (d) => {
                if (listening) {
                    return; // the request log: dropped
                }
                seen = (seen + d).slice(-4096);
                const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(seen);
                if (m) {
                    listening = true;
                    clearTimeout(timer);
                    resolve({ url: m[1], token });
                }
            });
            child.on("error", (e) => {
                clearTimeout(timer);
                this.child = null;
                reject(e.code === "ENOENT" ? notInstalled(this.command)
                    : { status: 500, answer: { error: "cannot run " + this.command + ": " + e.code } });
            });
            child.on("exit", (code) => {
                clearTimeout(timer);
                if (this.child === child) {
                    this.child = null;
                    this.ready = null; // restarted by the next request
                }
                if (!listening) {
                    // click's usage errors end with the line that says what is wrong
                    const lines = seen.trim().split("\n").filter((l) => l.trim());
                    const line = lines.filter((l) => /error/i.test(l)).pop() || lines.pop() || "exit code " + code;
                    reject({ status: 500, answer: { error: line } });
                }
            });
        });
    }

    stop() {
        if (this.child) {
            this.child.kill("SIGTERM");
            this.child = null;
        }
    }
}

function notInstalled(command) {
    return {
        status: 503,
        answer: {
            error: "hacheck is not installed where Node-RED runs (no '" + command + "' on the PATH), and settings.js names no hacheck serve (hacheck: {url})",
            install: INSTALL,
        },
    };
}
