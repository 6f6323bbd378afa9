// What the Node client scripts share (client_test.mjs, ws_test.mjs, browser_chat_test.mjs):
// exact comparisons, waits with deadlines, a server process whose ports are read from its
// log (with a `websocket {}` config block when a script asks for one), the inbox of a
// subscription, argument parsing and the loop that runs each case on a fresh server.
//
// The same command line, config and log lines serve nats-server 2.9.10 and ringmq:
//   -a 127.0.0.1 -p PORT (-1: a free one), and for WebSocket a config file with
//   websocket { listen: "127.0.0.1:-1", no_tls: true, compression: <bool> }
//   Listening for client connections on 127.0.0.1:PORT
//   Listening for websocket clients on ws://127.0.0.1:PORT

import { spawn } from "node:child_process";
import { accessSync, closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** This directory (tests/clients/node), where node_modules is. */
export const HERE = path.dirname(fileURLToPath(import.meta.url));

// Deadlines in ms. Generous: the CI machine is small and shared.
export const START_TIMEOUT = 20_000; // server start until it listens
export const STOP_TIMEOUT = 10_000; // SIGTERM until the process has exited
export const MSG_TIMEOUT = 10_000; // expected messages
export const RECONNECT_TIMEOUT = 20_000; // client notices a restart and reconnects
export const CASE_TIMEOUT = 60_000; // one whole case
const POLL_MS = 10; // poll interval of the condition waits below

const CLIENT_READY_RE = /Listening for client connections on (\S+):(\d+)/;
const WS_READY_RE = /Listening for websocket clients on ws:\/\/(\S+):(\d+)/;

export class Mismatch extends Error {}

export function short(value, limit = 600) {
  const text = JSON.stringify(value);
  return text.length <= limit ? text : `${text.slice(0, limit)}... (${text.length} chars)`;
}

export function expectEq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) {
    let detail = "";
    if (Array.isArray(actual) && Array.isArray(expected)) {
      let first = 0;
      while (first < actual.length && first < expected.length && JSON.stringify(actual[first]) === JSON.stringify(expected[first])) {
        first++;
      }
      detail = ` (lengths ${actual.length} vs ${expected.length}, first difference at ${first})`;
    }
    throw new Mismatch(`${what}: expected ${short(expected)}, got ${short(actual)}${detail}`);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with `promise`, or rejects with a Mismatch naming `what` after `ms`. */
export async function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Mismatch(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` until it holds; throws a Mismatch naming `what` at the deadline. */
export async function waitUntil(condition, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Mismatch(`${what}: not within ${ms} ms`);
    await sleep(POLL_MS);
  }
}

function portAccepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** The config file every WebSocket test starts its server with. */
export function websocketConfig(compression) {
  return ["websocket {", '  listen: "127.0.0.1:-1"', "  no_tls: true", `  compression: ${compression}`, "}", ""].join("\n");
}

/**
 * A server (ringmq, or nats-server when the binary's name says so) on 127.0.0.1: its client
 * port, and with `websocket` its WebSocket port, picked free by the server (or the client
 * port given) and read from its log. Log (and config) files are `<name>-<start>.*`.
 */
export class ServerProcess {
  constructor(binary, cores, workdir, name = "server") {
    this.binary = binary;
    this.isNatsServer = path.basename(binary).includes("nats-server");
    this.cores = cores;
    this.workdir = workdir;
    this.name = name;
    this.child = null;
    this.exited = null; // promise of the exit code
    this.exitCode = undefined;
    this.port = null;
    this.wsPort = null;
    this.starts = 0;
    this.logPath = null;
  }

  /**
   * Starts with the client port `port` (-1: the server picks a free one), with
   * `websocket: { compression }` a `websocket {}` block, and with `args` more arguments
   * both servers take (`-js -sd DIR`), and waits until every port accepts.
   */
  async start({ port = -1, websocket = null, args: extra = [] } = {}) {
    this.starts += 1;
    const base = path.join(this.workdir, `${this.name}-${this.starts}`);
    this.logPath = `${base}.log`;
    const args = [];
    if (websocket) {
      writeFileSync(`${base}.conf`, websocketConfig(websocket.compression));
      args.push("-c", `${base}.conf`);
    }
    args.push("-a", "127.0.0.1", "-p", String(port), ...extra);
    if (!this.isNatsServer) args.push("--cores", String(this.cores));
    const log = openSync(this.logPath, "w");
    this.child = spawn(this.binary, args, { stdio: ["ignore", log, log] });
    closeSync(log);
    this.exitCode = undefined;
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exitCode = code ?? signal;
        resolve(this.exitCode);
      });
    });
    // Wait for the ready lines (they carry the ports when -1 was asked for) ...
    this.wsPort = null;
    await waitUntil(() => {
      this.checkAlive("starting");
      const text = readFileSync(this.logPath, "utf8");
      const client = CLIENT_READY_RE.exec(text);
      const ws = websocket ? WS_READY_RE.exec(text) : null;
      if (client) this.port = Number(client[2]);
      if (ws) this.wsPort = Number(ws[2]);
      return client !== null && (ws !== null || !websocket);
    }, START_TIMEOUT, websocket ? "server reporting both listeners" : "server reporting that it listens");
    // ... then until the ports accept.
    for (const port of websocket ? [this.port, this.wsPort] : [this.port]) {
      await waitUntil(() => {
        this.checkAlive("starting");
        return portAccepts(port);
      }, START_TIMEOUT, `port ${port} accepting`);
    }
  }

  checkAlive(doing) {
    if (this.exitCode !== undefined) {
      throw new Mismatch(`server exited with ${this.exitCode} while ${doing}:\n${this.log()}`);
    }
  }

  /** SIGTERM, then wait for the exit (SIGKILL at the deadline). */
  async stop() {
    if (!this.child || this.exitCode !== undefined) return;
    this.child.kill("SIGTERM");
    try {
      await within(this.exited, STOP_TIMEOUT, "server exit after SIGTERM");
    } catch (e) {
      this.child.kill("SIGKILL");
      await this.exited;
      throw e;
    }
  }

  /** Stops the server and starts it again on the same client port (TCP only). */
  async restart() {
    const port = this.port;
    await this.stop();
    await this.start({ port });
    expectEq(this.port, port, "port after restart");
  }

  async kill() {
    if (this.child && this.exitCode === undefined) {
      this.child.kill("SIGKILL");
      await this.exited;
    }
  }

  log() {
    if (!this.logPath || !existsSync(this.logPath)) return "(no log)";
    return readFileSync(this.logPath, "utf8").split("\n").slice(-40).join("\n");
  }

  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }

  get wsUrl() {
    return `ws://127.0.0.1:${this.wsPort}`;
  }
}

export const text = (data) => new TextDecoder().decode(data);

export const range = (n) => [...Array(n).keys()];

/** Whether NATS subject `pattern` (with `*` and `>`) matches `subject`. */
export function matches(pattern, subject) {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/**
 * Errors the clients reported asynchronously during the current case (subscription errors,
 * server -ERR, slow consumer). `runCases` empties it before each case and fails a case that
 * leaves any.
 */
export const clientErrors = [];

/** Records `nc`'s error and slow-consumer status events in `clientErrors`. */
export function watchStatus(nc) {
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === "error" || status.type === "slowConsumer") {
        clientErrors.push(`${status.type}: ${status.error ?? status.pending}`);
      }
    }
  })().catch((e) => clientErrors.push(`status iterator: ${e}`));
}

const recordClientError = (e) => clientErrors.push(e);

/**
 * A subscription whose messages are collected by the client's callback, in arrival
 * order; `take(n)` waits (with a deadline) until n are there and removes them.
 * `onError` receives subscription errors (by default `clientErrors`: the case fails on any).
 */
export class Inbox {
  constructor(nc, subject, opts = {}, onError = recordClientError) {
    this.messages = [];
    this.waiter = null;
    this.subject = subject;
    this.sub = nc.subscribe(subject, {
      ...opts,
      callback: (err, msg) => {
        if (err) {
          onError(`subscription ${subject}: ${err}`);
          return;
        }
        this.messages.push(msg);
        if (this.waiter && this.messages.length >= this.waiter.count) this.waiter.resolve();
      },
    });
  }

  async take(count, what = `messages on ${this.subject}`) {
    if (this.messages.length < count) {
      const arrived = new Promise((resolve) => {
        this.waiter = { count, resolve };
      });
      try {
        await within(arrived, MSG_TIMEOUT, `${what} (${this.messages.length} of ${count} so far)`);
      } finally {
        this.waiter = null;
      }
    }
    return this.messages.splice(0, count);
  }

  async payloads(count, what) {
    return (await this.take(count, what)).map((m) => text(m.data));
  }

  /** Nothing more arrived. Only meaningful after a later marker on the same connection. */
  expectNoMore(what) {
    if (this.messages.length !== 0) {
      throw new Mismatch(`${what}: unexpected extra messages ${short(this.messages.map((m) => [m.subject, text(m.data)]))}`);
    }
  }
}

/**
 * `--server-bin PATH --cores N --repeat N [CASE...]`; `options` adds more options, each
 * `"--name": (args, value) => ...`. The server binary defaults to target/release/ringmq.
 */
export function parseArgs(argv, usage, options = {}) {
  const args = { serverBin: path.resolve(HERE, "..", "..", "..", "target", "release", "ringmq"), cores: 2, repeat: 1, cases: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--server-bin") args.serverBin = value();
    else if (arg === "--cores") args.cores = Number(value());
    else if (arg === "--repeat") args.repeat = Number(value());
    else if (arg in options) options[arg](args, value());
    else if (arg === "-h" || arg === "--help") {
      console.log(usage);
      process.exit(0);
    } else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}`);
    else args.cases.push(arg);
  }
  return args;
}

/** Exits 2 unless `file` is executable. */
export function requireExecutable(what, file) {
  try {
    accessSync(file, constants.X_OK);
  } catch {
    console.error(`${what} ${file} is not executable`);
    process.exit(2);
  }
}

/** The `[name, fn]` entries of `cases` named in `names` (all if none); exits 2 on an unknown name. */
export function chooseCases(cases, names) {
  const known = cases.map(([name]) => name);
  const unknown = names.filter((c) => !known.includes(c));
  if (unknown.length) {
    console.error(`unknown cases ${unknown}; known: ${known}`);
    process.exit(2);
  }
  return cases.filter(([name]) => names.length === 0 || names.includes(name));
}

/** The version of an installed package (not every package exports its package.json). */
export function packageVersion(pkg) {
  return JSON.parse(readFileSync(path.join(HERE, "node_modules", pkg, "package.json"), "utf8")).version;
}

/**
 * Runs each of `runs` (`{ label, name, start, body }`) `repeat` times, each on a fresh server
 * started with `start` (options of `ServerProcess.start`, or a function of the server that
 * returns them) and logged as `name`: `body(server, round)` must resolve within
 * CASE_TIMEOUT, the server must stay up, no client error may be reported, and the server
 * must stop on SIGTERM. Prints `ok   <label> (N ms)` or `FAIL <label>` with the server's
 * log; returns the counts.
 */
export async function runCases({ binary, cores, repeat, tmpPrefix, runs }) {
  const workdir = mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  let passed = 0;
  let failed = 0;
  try {
    for (let round = 0; round < repeat; round++) {
      for (const { label, name, start, body } of runs) {
        const server = new ServerProcess(binary, cores, workdir, name);
        const started = Date.now();
        clientErrors.length = 0;
        try {
          // A function gives each run its own options (a fresh JetStream store directory).
          await server.start(typeof start === "function" ? start(server) : start);
          await within(body(server, round), CASE_TIMEOUT, `case ${label}`);
          server.checkAlive("running the case");
          if (clientErrors.length) throw new Mismatch(`client reported errors: ${clientErrors}`);
          await server.stop();
          passed++;
          console.log(`ok   ${label} (${Date.now() - started} ms)`);
        } catch (e) {
          failed++;
          console.log(`FAIL ${label}: ${e?.stack ?? e}`);
          console.log(`--- server log ---\n${server.log()}\n---`);
        } finally {
          await server.kill();
        }
      }
    }
  } finally {
    rmSync(workdir, { recursive: true, force: true });
  }
  return { passed, failed };
}

/** Prints `N passed, N failed` and exits (1 on any failure). */
export function report({ passed, failed }) {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
