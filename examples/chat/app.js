// A chat over NATS in the browser: @nats-io/nats-core's wsconnect, nothing else.
//
// Subjects, for room R:
//   chat.R            a message: payload = text, header `Chat-From` = the sender's name
//   chat.R.presence   "who is here?": payload = the asker's name, reply = the asker's own
//                     inbox; every page in the room answers with its name (and adds the
//                     asker to its list), so the asker gathers everyone who is there
//   chat.R.left       a page leaving: payload = its name
//   chat.R.history    "what was said?": every page answers with its last HISTORY_SIZE
//                     messages as JSON; the joiner takes the first answer
//
// Page parameters (query string, or the join form): name, room, server (ws:// URL).
// The page sets <body data-state="joined"> once it is in the room, for tests to wait on.

import { wsconnect, headers, createInbox, errors } from "@nats-io/nats-core";

const HISTORY_SIZE = 20; // messages a page keeps and hands to a joiner
const HISTORY_TIMEOUT_MS = 2000; // a joiner's wait for the history answer

const $ = (id) => document.getElementById(id);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

let nc = null;
let me = null;
let room = null;
const log = []; // {from, text}: what this page can hand to the next joiner
const present = new Set();

function setStatus(text) {
  $("status").textContent = text;
}

function showWho() {
  const list = $("who");
  list.replaceChildren(
    ...[...present].sort().map((name) => {
      const li = document.createElement("li");
      li.textContent = name;
      if (name === me) li.className = "me";
      return li;
    }),
  );
}

function messageItem({ from, text }, history) {
  const li = document.createElement("li");
  li.className = history ? "msg history" : "msg";
  const who = document.createElement("span");
  who.className = "from";
  who.textContent = from;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  li.append(who, body);
  return li;
}

function remember(entry) {
  log.push(entry);
  if (log.length > HISTORY_SIZE) log.splice(0, log.length - HISTORY_SIZE);
}

function addMessage(entry) {
  remember(entry);
  const list = $("messages");
  list.append(messageItem(entry, false));
  list.scrollTop = list.scrollHeight;
}

async function fetchHistory() {
  try {
    const reply = await nc.request(`chat.${room}.history`, encoder.encode(me), { timeout: HISTORY_TIMEOUT_MS });
    return JSON.parse(decoder.decode(reply.data));
  } catch (e) {
    // Nobody else in the room: the server answers "no responders" at once.
    if (e instanceof errors.RequestError && e.isNoResponders()) return [];
    throw e;
  }
}

async function join(server, name, roomName) {
  me = name;
  room = roomName;
  setStatus(`connecting to ${server}…`);
  nc = await wsconnect({ servers: server, name: `chat ${name}` });
  present.add(me);
  showWho();

  nc.subscribe(`chat.${room}`, {
    callback: (err, msg) => {
      if (err) return setStatus(`error: ${err.message}`);
      addMessage({ from: msg.headers?.get("Chat-From") || "?", text: decoder.decode(msg.data) });
    },
  });
  nc.subscribe(`chat.${room}.presence`, {
    callback: (err, msg) => {
      if (err) return;
      present.add(decoder.decode(msg.data));
      showWho();
      msg.respond(encoder.encode(me));
    },
  });
  nc.subscribe(`chat.${room}.left`, {
    callback: (err, msg) => {
      if (err) return;
      present.delete(decoder.decode(msg.data));
      showWho();
    },
  });
  // Answers from everyone in the room come to this inbox, whenever they arrive.
  const inbox = createInbox();
  nc.subscribe(inbox, {
    callback: (err, msg) => {
      if (err) return;
      present.add(decoder.decode(msg.data));
      showWho();
    },
  });
  // The history of the others before this page answers history requests itself.
  await nc.flush();
  const history = await fetchHistory();
  nc.subscribe(`chat.${room}.history`, {
    callback: (err, msg) => {
      if (err) return;
      msg.respond(encoder.encode(JSON.stringify(log)));
    },
  });
  const list = $("messages");
  list.prepend(...history.map((entry) => messageItem(entry, true)));
  log.unshift(...history);
  if (log.length > HISTORY_SIZE) log.splice(0, log.length - HISTORY_SIZE);
  nc.publish(`chat.${room}.presence`, encoder.encode(me), { reply: inbox });
  await nc.flush();

  $("join").hidden = true;
  $("chat").hidden = false;
  $("room-name").textContent = room;
  setStatus(`connected to ${server} as ${me}`);
  document.body.dataset.state = "joined";
  $("text").focus();

  nc.closed().then((err) => {
    document.body.dataset.state = "closed";
    setStatus(err ? `disconnected: ${err.message}` : "disconnected");
  });
}

function send(text) {
  const h = headers();
  h.set("Chat-From", me);
  nc.publish(`chat.${room}`, encoder.encode(text), { headers: h });
}

window.addEventListener("DOMContentLoaded", () => {
  const params = new URLSearchParams(location.search);
  $("server").value = params.get("server") || `ws://${location.hostname || "127.0.0.1"}:8080`;
  $("room").value = params.get("room") || "lobby";
  $("name").value = params.get("name") || "";

  const start = () =>
    join($("server").value.trim(), $("name").value.trim(), $("room").value.trim()).catch((e) => {
      document.body.dataset.state = "error";
      setStatus(`error: ${e.message}`);
    });
  $("join").addEventListener("submit", (event) => {
    event.preventDefault();
    start();
  });
  $("chat").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (text.trim() === "") return;
    send(text);
    $("text").value = "";
  });
  window.addEventListener("pagehide", () => {
    if (nc && !nc.isClosed()) {
      nc.publish(`chat.${room}.left`, encoder.encode(me));
      nc.flush().finally(() => nc.close());
    }
  });
  if (params.get("name")) start();
});
