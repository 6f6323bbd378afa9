// Two pages of examples/chat in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core: no browser download) and a TCP client (@nats-io/transport-node) chat
// through a server, once with `compression: false` and once with `compression: true` in
// its `websocket {}` block. The test types into the pages and reads what each page shows
// (DOM text), asserting exact lists: messages in order, history handed to the second page,
// who is present; the TCP client's view is asserted too (payloads and `Chat-From` header).
// Each step waits for the DOM (or the TCP inbox) to show what it must, with a deadline.
//
// The page is served on http://127.0.0.1:<free port> by examples/chat/serve.mjs, so Chrome
// sends a real Origin; build it first (`npm ci && npm run build` in examples/chat).
//
//   node browser_chat_test.mjs [--server-bin PATH] [--chromium PATH] [--screenshot FILE]
// Prints one line per run and `N passed, N failed`; exits 1 on any failure.

import { existsSync } from "node:fs";
import path from "node:path";

import { chromium } from "playwright-core";
import { connect as tcpconnect, headers } from "@nats-io/transport-node";

import { HERE, MSG_TIMEOUT, Inbox, Mismatch, expectEq, packageVersion, parseArgs, report, requireExecutable, runCases, text, waitUntil, within } from "./harness.mjs";

const CHAT_DIR = path.resolve(HERE, "..", "..", "..", "examples", "chat");
const { serve } = await import(path.join(CHAT_DIR, "serve.mjs"));

// As the machine's own check started it: no sandbox (we run as root), and nothing that
// reaches for the network beyond loopback.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const DEFLATE_101 = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/** One chat page: its handshake response headers and any page errors are recorded. */
async function openChat(browser, pageUrl, server, name, problems) {
  const context = await browser.newContext({ viewport: { width: 760, height: 500 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`${name} page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`${name} console error: ${m.text()}`);
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const handshakes = [];
  cdp.on("Network.webSocketHandshakeResponseReceived", (e) => handshakes.push(e.response));
  // Sizes of the data frames the page received (binary ones come base64-encoded).
  const frames = [];
  cdp.on("Network.webSocketFrameReceived", ({ response: r }) =>
    frames.push(r.opcode === 2 ? Buffer.from(r.payloadData, "base64").length : r.payloadData.length),
  );
  const query = new URLSearchParams({ name, room: "lobby", server: server.wsUrl });
  await page.goto(`${pageUrl}?${query}`);
  await page.waitForSelector('body[data-state="joined"]', { timeout: MSG_TIMEOUT }).catch(async (e) => {
    throw new Mismatch(`${name} did not join: ${await page.textContent("#status")} (${e.message.split("\n")[0]})`);
  });
  return { page, context, handshakes, frames, name };
}

/** Waits until `selector`'s elements show exactly `expected` (their text, in order). */
async function expectShown(chat, selector, expected, what) {
  let last = null;
  try {
    await waitUntil(async () => {
      // A message shows as `from: text` (the colon is CSS), `(history) ` before one that
      // came from another page's history; a name in the list as its text.
      last = await chat.page.$$eval(selector, (els) =>
        els.map((e) => {
          const [from, body] = [e.querySelector(".from"), e.querySelector(".text")];
          const shown = from && body ? `${from.textContent}: ${body.textContent}` : e.textContent;
          return (e.classList.contains("history") ? "(history) " : "") + shown;
        }),
      );
      return JSON.stringify(last) === JSON.stringify(expected);
    }, MSG_TIMEOUT, `${chat.name}: ${what}`);
  } catch (e) {
    throw new Mismatch(`${e.message}: expected ${JSON.stringify(expected)}, shows ${JSON.stringify(last)}`);
  }
}

async function say(chat, line) {
  await chat.page.fill("#text", line);
  await chat.page.press("#text", "Enter");
}

async function chatCase(browser, server, pageUrl, compression, screenshot) {
  const problems = [];
  const bot = await tcpconnect({ servers: server.url, reconnect: false, timeout: 5_000, name: "tcp-bot" });
  const chats = [];
  try {
    const botInbox = new Inbox(bot, "chat.lobby", {}, (e) => problems.push(e));
    const botLeft = new Inbox(bot, "chat.lobby.left", {}, (e) => problems.push(e));
    bot.subscribe("chat.lobby.presence", { callback: (_err, msg) => msg.respond("tcp-bot") });
    await within(bot.flush(), MSG_TIMEOUT, "tcp-bot flush");
    const botSays = async (line) => {
      const h = headers();
      h.set("Chat-From", "tcp-bot");
      bot.publish("chat.lobby", line, { headers: h });
      await within(bot.flush(), MSG_TIMEOUT, "tcp-bot flush");
    };
    const botSaw = async (expected) =>
      expectEq((await botInbox.take(expected.length)).map((m) => `${m.headers?.get("Chat-From")}: ${text(m.data)}`), expected, "what tcp-bot received");

    const tag = compression ? "deflate" : "plain";
    const alice = await openChat(browser, pageUrl, server, "alice", problems);
    chats.push(alice);
    await expectShown(alice, "#who li", ["alice", "tcp-bot"], "who is here");
    await expectShown(alice, "#messages li", [], "an empty room");

    await say(alice, `hello from alice (${tag})`);
    await botSaw([`alice: hello from alice (${tag})`]);
    await botSays("hi from tcp");
    await botSaw(["tcp-bot: hi from tcp"]);
    const aliceSaw = [`alice: hello from alice (${tag})`, "tcp-bot: hi from tcp"];
    await expectShown(alice, "#messages li", aliceSaw, "messages");

    // Bob joins: everyone answers his presence request; alice hands him the history.
    const bob = await openChat(browser, pageUrl, server, "bob", problems);
    chats.push(bob);
    await expectShown(bob, "#who li", ["alice", "bob", "tcp-bot"], "who is here");
    await expectShown(alice, "#who li", ["alice", "bob", "tcp-bot"], "who is here after bob joined");
    const history = aliceSaw.map((line) => `(history) ${line}`);
    await expectShown(bob, "#messages li", history, "history on joining");

    const live = [];
    const step = async (line) => {
      live.push(line);
      await expectShown(alice, "#messages li", [...aliceSaw, ...live], "messages");
      await expectShown(bob, "#messages li", [...history, ...live], "messages");
      await botSaw([line]);
    };
    await say(bob, `hello from bob (${tag})`);
    await step(`bob: hello from bob (${tag})`);
    await botSays("welcome bob");
    await step("tcp-bot: welcome bob");
    await say(alice, "a longer line, so that this frame is over the server's 64-byte compression threshold");
    await step("alice: a longer line, so that this frame is over the server's 64-byte compression threshold");
    if (screenshot) await bob.page.screenshot({ path: screenshot });
    // A message of 10,889 bytes: nats-server sends a browser (User-Agent `Mozilla/…`)
    // uncompressed frames of at most 4096 bytes, so it arrives in pieces; the pages must
    // show it whole.
    const long = Array.from({ length: 2000 }, (_, i) => `w${i}`).join(" ");
    expectEq(long.length, 10_889, "length of the long message");
    await botSays(long);
    await step(`tcp-bot: ${long}`);
    botInbox.expectNoMore("tcp-bot");

    // Bob leaves (the page goes away): his `pagehide` handler says so on chat.lobby.left.
    await bob.page.goto("about:blank");
    expectEq(await botLeft.payloads(1, "chat.lobby.left"), ["bob"], "who left, as tcp-bot saw it");
    await expectShown(alice, "#who li", ["alice", "tcp-bot"], "who is here after bob left");

    // What each page's WebSocket upgrade got back: the extension only when compression is on.
    for (const chat of chats) {
      expectEq(chat.handshakes.length, 1, `${chat.name}: WebSocket handshakes`);
      const { status, headers: h } = chat.handshakes[0];
      const ext = Object.entries(h).find(([k]) => k.toLowerCase() === "sec-websocket-extensions");
      expectEq([status, ext?.[1] ?? null], [101, compression ? DEFLATE_101 : null], `${chat.name}: 101 response and its Sec-WebSocket-Extensions`);
      // Uncompressed, the long message came in frames of 4096 bytes and no frame was larger.
      if (!compression) expectEq(Math.max(...chat.frames), 4096, `${chat.name}: largest frame (sizes ${chat.frames})`);
    }
    if (problems.length) throw new Mismatch(`problems: ${problems.join("; ")}`);
  } finally {
    for (const chat of chats) await chat.context.close();
    await bot.close();
  }
}

async function main() {
  const args = parseArgs(
    process.argv.slice(2),
    "usage: node browser_chat_test.mjs [--server-bin PATH] [--chromium PATH] [--screenshot FILE] [--cores N] [--repeat N]",
    {
      "--chromium": (a, value) => (a.chromium = value),
      "--screenshot": (a, value) => (a.screenshot = path.resolve(value)),
    },
  );
  if (args.cases.length) throw new Error(`unknown argument ${args.cases[0]}`);
  const chromiumPath = args.chromium ?? "/usr/bin/chromium";
  const binary = path.resolve(args.serverBin);
  requireExecutable("server binary", binary);
  requireExecutable("chromium", chromiumPath);
  if (!existsSync(path.join(CHAT_DIR, "dist", "chat.js"))) {
    console.error(`${CHAT_DIR}/dist/chat.js is missing: run npm ci && npm run build there`);
    process.exit(2);
  }
  const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS, timeout: 30_000 });
  console.log(`chromium ${browser.version()} via playwright-core ${packageVersion("playwright-core")} (node ${process.version}) against ${binary}`);
  const pages = await serve(0);
  const pageUrl = `http://127.0.0.1:${pages.address().port}/`;

  const runs = [false, true].map((compression) => ({
    label: `browser chat (compression ${compression ? "on" : "off"})`,
    name: `chat-${compression}`,
    start: { websocket: { compression } },
    body: (server, round) => chatCase(browser, server, pageUrl, compression, compression && round === 0 ? args.screenshot : null),
  }));
  let counts;
  try {
    counts = await runCases({ binary, cores: args.cores, repeat: args.repeat, tmpPrefix: "browser-chat-", runs });
  } finally {
    pages.close();
    await browser.close();
  }
  report(counts);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
