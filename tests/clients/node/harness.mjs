// What the WebSocket scripts share (ws_test.mjs, browser_chat_test.mjs): exact comparisons,
// waits with deadlines, and a server process started from a config file with a
// `websocket {}` block, whose client and WebSocket ports are read from its log.
//
// The same config and the same log lines serve nats-server 2.9.10 and ringmq:
//   listen (-a 127.0.0.1 -p -1 on the command line), and
//   websocket { listen: "127.0.0.1:-1", no_tls: true, compression: <bool> }
//   Listening for client connections on 127.0.0.1:PORT
//   Listening for websocket clients on ws://127.0.0.1:PORT

import { spawn } from "node:child_process";
import { openSync, closeSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";

// Deadlines in ms. Generous: the CI machine is small and shared.
export const START_TIMEOUT = 20_000; // server start until it listens
export const STOP_TIMEOUT = 10_000; // SIGTERM until the process has exited
export const MSG_TIMEOUT = 10_000; // expected messages
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
 * A server (ringmq, or nats-server when the binary's name says so) with a client port and
 * a WebSocket port, both picked free by the server and read from its log.
 */
export class WsServerProcess {
  constructor(binary, cores, workdir, name) {
    this.binary = binary;
    this.isNatsServer = path.basename(binary).includes("nats-server");
    this.cores = cores;
    this.workdir = workdir;
    this.name = name;
    this.child = null;
    this.exited = null;
    this.exitCode = undefined;
    this.port = null;
    this.wsPort = null;
    this.logPath = null;
  }

  async start({ compression }) {
    const confPath = path.join(this.workdir, `${this.name}.conf`);
    writeFileSync(confPath, websocketConfig(compression));
    this.logPath = path.join(this.workdir, `${this.name}.log`);
    const args = ["-c", confPath, "-a", "127.0.0.1", "-p", "-1"];
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
    await waitUntil(() => {
      this.checkAlive("starting");
      const text = readFileSync(this.logPath, "utf8");
      const client = CLIENT_READY_RE.exec(text);
      const ws = WS_READY_RE.exec(text);
      if (client) this.port = Number(client[2]);
      if (ws) this.wsPort = Number(ws[2]);
      return client !== null && ws !== null;
    }, START_TIMEOUT, `server reporting both listeners`);
    for (const port of [this.port, this.wsPort]) {
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

/**
 * A subscription whose messages are collected by the client's callback, in arrival
 * order; `take(n)` waits (with a deadline) until n are there and removes them.
 * `onError` receives subscription errors (the case fails on any).
 */
export class Inbox {
  constructor(nc, subject, opts = {}, onError = () => {}) {
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

/** `--server-bin PATH --cores N --repeat N [CASE...]`, as client_test.mjs reads them. */
export function parseArgs(argv, defaultServerBin, usage) {
  const args = { serverBin: defaultServerBin, cores: 2, repeat: 1, cases: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--server-bin") args.serverBin = value();
    else if (arg === "--cores") args.cores = Number(value());
    else if (arg === "--repeat") args.repeat = Number(value());
    else if (arg === "-h" || arg === "--help") {
      console.log(usage);
      process.exit(0);
    } else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}`);
    else args.cases.push(arg);
  }
  return args;
}
