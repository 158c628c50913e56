// The dock page: renders the status and the feed pushed by the dock server, and sends the controls.
// Everything from the server is put in the page as text (textContent), never as markup.
"use strict";

const KIND_WORDS = {
  context: "Context", reaction: "Reaction", join: "Join", leave: "Leave", character: "Character",
  test: "Connection test", ai_message: "ai_licia said", presence: "In chat", connect: "Connect", notice: "Note",
};
const OUTCOME_WORDS = { sent: "sent", waiting: "waiting", failed: "failed", dropped: "dropped", said: "", info: "" };
const REFUSAL_WORDS = {
  rate_limited: "Slow down: too many presses at once. Try again in a moment.",
  bad_token: "This dock address is out of date: copy the new one from the script's panel.",
  bad_origin: "Refused: this page is not the dock.",
  bad_host: "Refused: open the dock by the address the script's panel shows.",
  bad_request: "Type something first (at most 500 characters).",
  unavailable: "This version of the script cannot do that.",
};
const FEED_MAX = 200;
const $ = (id) => document.getElementById(id);
let automaticPaused = false;

function setChip(el, text, cls) {
  el.textContent = text;
  el.className = "chip" + (cls ? " " + cls : "");
}

function renderStatus(s) {
  setChip($("live"), s.live ? "● Live" : "Not live", s.live ? "on" : "");
  const confirmed = s.in_chat_confirmed === true ? " (confirmed)" : "";
  if (s.in_chat === true) setChip($("chat"), "ai_licia in chat" + confirmed, "yes");
  else if (s.in_chat === false) setChip($("chat"), "ai_licia not in chat", "");
  else setChip($("chat"), "ai_licia: not asked yet", "maybe");
  $("character").hidden = !s.active_character;
  $("character").textContent = s.active_character ? "Character: " + s.active_character : "";
  const paused = [];
  if (s.paused_reason) paused.push("Paused: " + s.paused_reason);
  if (s.automatic_paused) paused.push("Automatic sending paused (manual controls still work).");
  $("paused").hidden = paused.length === 0;
  $("paused").textContent = paused.join(" ");
  let waiting = "";
  if (s.reactions_waiting) {
    waiting = "Reactions waiting: " + s.reactions_waiting + (s.next_reaction_in_s > 0 ? ", next in " + s.next_reaction_in_s + " s." : ".");
  } else if (s.next_reaction_in_s > 0) {
    waiting = "Next reaction possible in " + s.next_reaction_in_s + " s.";
  }
  if (s.context_waiting) waiting += (waiting ? " " : "") + "Context waiting: " + s.context_waiting + ".";
  $("waiting").textContent = waiting;
  $("waiting").hidden = !waiting;
  const lines = $("lines");
  lines.replaceChildren(...s.lines.map((line) => Object.assign(document.createElement("li"), { textContent: line })));
  renderTriggers(s.triggers);
  automaticPaused = s.automatic_paused;
  $("pause").textContent = automaticPaused ? "Resume automatic" : "Pause automatic";
  $("pause").hidden = !s.can_pause;
  $("connect").hidden = !s.can_connect;
}

function renderTriggers(triggers) {
  const box = $("triggers");
  const wanted = JSON.stringify(triggers);
  if (box.dataset.shown === wanted) return; // keep focus and hover while nothing changed
  box.dataset.shown = wanted;
  box.replaceChildren(...triggers.map((t) => {
    const button = document.createElement("button");
    button.type = "button";
    button.id = "trigger-" + t.slot;
    button.className = "trigger";
    button.disabled = !t.ready;
    button.append(t.name, Object.assign(document.createElement("small"), { textContent: t.prompt || "(no prompt yet)" }));
    button.addEventListener("click", () => control("trigger", { slot: t.slot }, t.name + ": asked ai_licia to react."));
    return button;
  }));
}

function entryItem(e) {
  const li = document.createElement("li");
  li.className = e.outcome + (e.kind === "ai_message" ? " said" : "");
  li.dataset.kind = e.kind;
  li.dataset.seq = e.seq;
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.append(
    Object.assign(document.createElement("span"), { textContent: e.time }),
    Object.assign(document.createElement("span"), { textContent: KIND_WORDS[e.kind] || e.kind }),
    Object.assign(document.createElement("span"), { className: "outcome", textContent: OUTCOME_WORDS[e.outcome] ?? e.outcome }),
  );
  li.append(meta, Object.assign(document.createElement("div"), { className: "content", textContent: e.content }));
  if (e.detail) li.append(Object.assign(document.createElement("div"), { className: "detail", textContent: e.detail }));
  return li;
}

function addEntries(entries) {
  const feed = $("feed");
  for (const e of entries) feed.prepend(entryItem(e)); // newest first
  while (feed.children.length > FEED_MAX) feed.lastChild.remove();
  $("empty").hidden = feed.children.length > 0;
}

function say(text, bad) {
  $("notice").textContent = text;
  $("notice").className = bad ? "bad" : "";
}

async function control(name, body, done) {
  try {
    const answer = await fetch("/api/control/" + name, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Ailicia-Token": DOCK_TOKEN },
      body: JSON.stringify(body || {}),
    });
    if (answer.ok) { say(done, false); return true; }
    const why = await answer.json().catch(() => ({}));
    say(REFUSAL_WORDS[why.error] || "The script refused that (" + answer.status + ").", true);
  } catch (_) {
    say("Could not reach the script: is OBS running with it loaded?", true);
  }
  return false;
}

function wireTextForm(formId, inputId, name, done) {
  $(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $(inputId);
    const text = input.value.trim();
    if (!text) { say(REFUSAL_WORDS.bad_request, true); return; }
    if (await control(name, { text }, done)) input.value = "";
  });
}

wireTextForm("context-form", "context-text", "context", "Sent to ai_licia's context.");
wireTextForm("reaction-form", "reaction-text", "reaction", "Asked ai_licia to react.");
for (const button of document.querySelectorAll("button[data-control]")) {
  const words = { join: "Asked ai_licia to join chat.", leave: "Asked ai_licia to leave chat.",
                  test: "Testing the connection…", connect: "Connecting with the ai_licia app…" };
  button.addEventListener("click", () => control(button.dataset.control, {}, words[button.dataset.control]));
}
$("pause").addEventListener("click", () => automaticPaused
  ? control("resume", {}, "Automatic sending resumed.")
  : control("pause", {}, "Automatic sending paused: scenes and sources are not reported until you resume."));

followDock({
  state: (state) => { $("feed").replaceChildren(); renderStatus(state.status); addEntries(state.activity); },
  status: renderStatus,
  activity: addEntries,
}, (up) => { $("offline").hidden = up; });
