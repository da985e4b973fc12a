// The runtime side of the hacheck editor plugin: one admin route, POST /hacheck/check, that
// checks the flows the editor sends (its current, undeployed state, without credentials) and
// answers hacheck's JSON report (version 1). It asks a `hacheck serve` when settings.js names
// one (hacheck: {url, token}), else runs the `hacheck` command with the flows on stdin. The
// rules themselves live only in hacheck: nothing is re-implemented here.
"use strict";

const { spawn } = require("child_process");

const INSTALL = "pipx install nodered-hacheck";
const DOCS = "https://github.com/hacheck/hacheck/blob/main/docs/rules.md";
const TIMEOUT_MS = 120000;

module.exports = function (RED) {
    const conf = RED.settings.hacheck && typeof RED.settings.hacheck === "object" ? RED.settings.hacheck : {};

    RED.plugins.registerPlugin("hacheck", { type: "hacheck" });

    // flows.read: whoever may see the flows may see what is wrong with them
    RED.httpAdmin.post("/hacheck/check", RED.auth.needsPermission("flows.read"), function (req, res) {
        const flows = req.body && Array.isArray(req.body.flows) ? req.body.flows : null;
        if (!flows) {
            return res.status(400).json({ error: "send {flows: [...]}" });
        }
        const body = JSON.stringify(flows);
        const done = (status, answer) => res.status(status).json(Object.assign({ docs: conf.docsUrl || DOCS }, answer));
        if (conf.url) {
            viaService(conf, body).then((r) => done(r.status, r.answer));
        } else {
            viaCommand(conf.command || "hacheck", body, RED.settings.userDir).then((r) => done(r.status, r.answer));
        }
    });
};

async function viaService(conf, body) {
    const url = String(conf.url).replace(/\/+$/, "") + "/check?name=flows.json";
    const headers = { "Content-Type": "application/json" };
    if (conf.token) {
        headers.Authorization = "Bearer " + conf.token;
    }
    let res;
    try {
        res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
        return { status: 503, answer: { error: "hacheck serve at " + conf.url + " did not answer (" + (err.cause && err.cause.code || err.name) + ")", via: "serve" } };
    }
    if (res.status !== 200) {
        return { status: 502, answer: { error: "hacheck serve at " + conf.url + " answered HTTP " + res.status, via: "serve" } };
    }
    try {
        return { status: 200, answer: { report: await res.json(), via: "serve" } };
    } catch (err) {
        return { status: 502, answer: { error: "hacheck serve answered something that is not a report", via: "serve" } };
    }
}

function viaCommand(command, body, cwd) {
    return new Promise((resolve) => {
        let out = "";
        let err = "";
        let settled = false;
        const finish = (r) => {
            if (!settled) {
                settled = true;
                resolve(r);
            }
        };
        let child;
        try {
            // the project's .hacheck.yaml is found from the userDir, as `hacheck check` there would
            child = spawn(command, ["check", "-", "-f", "json", "--fail-on", "never"], { cwd: cwd || process.cwd(), env: process.env });
        } catch (e) {
            return finish(notInstalled(command));
        }
        const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
        child.on("error", (e) => {
            clearTimeout(timer);
            finish(e.code === "ENOENT" ? notInstalled(command) : { status: 500, answer: { error: "cannot run " + command + ": " + e.code, via: "command" } });
        });
        child.stdout.on("data", (d) => { out += d; });
        child.stderr.on("data", (d) => { err += d; });
        child.on("close", (code) => {
            clearTimeout(timer);
            if (code !== 0 && code !== 1) {
                const line = err.trim().split("\n")[0] || "exit code " + code;
                return finish({ status: 500, answer: { error: line, via: "command" } });
            }
            try {
                finish({ status: 200, answer: { report: JSON.parse(out), via: "command" } });
            } catch (e) {
                finish({ status: 500, answer: { error: command + " printed something that is not a report", via: "command" } });
            }
        });
        child.stdin.on("error", () => {}); // a command that exits early: reported by 'close'
        child.stdin.end(body);
    });
}

function notInstalled(command) {
    return {
        status: 503,
        answer: {
            error: "hacheck is not installed where Node-RED runs (no '" + command + "' on the PATH), and settings.js names no hacheck serve (hacheck: {url})",
            install: INSTALL,
            via: "command",
        },
    };
}
