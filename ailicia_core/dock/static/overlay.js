// The overlay: ai_licia's latest message as captions, word by word, faded out after a reading time.
"use strict";

const WORD_DELAY_MS = 70;
const READ_MS_PER_CHAR = 60;
const MIN_SHOWN_MS = 3000;
const MAX_SHOWN_MS = 12000;
//: A message older than this when the overlay (re)connects is not shown again.
const FRESH_S = 15;
let fadeTimer = null;

function showCaption(text) {
  const caption = document.getElementById("caption");
  const name = Object.assign(document.createElement("span"), { className: "name", textContent: "ai_licia" });
  const words = text.split(/\s+/).filter(Boolean).map((word, n) => {
    const span = Object.assign(document.createElement("span"), { className: "word", textContent: word });
    span.style.animationDelay = (n * WORD_DELAY_MS) + "ms";
    return span;
  });
  caption.replaceChildren(name, " ", ...words.flatMap((w) => [w, " "]));
  caption.classList.add("shown");
  clearTimeout(fadeTimer);
  const shown = Math.min(MAX_SHOWN_MS, Math.max(MIN_SHOWN_MS, text.length * READ_MS_PER_CHAR + words.length * WORD_DELAY_MS));
  fadeTimer = setTimeout(() => caption.classList.remove("shown"), shown);
}

function latestSaid(entries) {
  const said = entries.filter((e) => e.kind === "ai_message");
  return said.length ? said[said.length - 1] : null;
}

followDock({
  state: (state) => {
    const last = latestSaid(state.activity);
    if (last && Date.now() / 1000 - last.at < FRESH_S) showCaption(last.content);
  },
  activity: (entries) => { const last = latestSaid(entries); if (last) showCaption(last.content); },
});
