// Shared by the dock and the overlay: the token from the page's own address, and the live event stream.
"use strict";

const DOCK_TOKEN = new URLSearchParams(location.search).get("token") || "";

// Follow the dock server's Server-Sent Events; handlers get parsed JSON. EventSource reconnects by itself
// (with Last-Event-ID, so nothing is missed); onLink(true/false) says whether the stream is up.
function followDock(handlers, onLink) {
  const source = new EventSource("/api/events?token=" + encodeURIComponent(DOCK_TOKEN));
  for (const [name, handle] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => handle(JSON.parse(event.data)));
  }
  source.onopen = () => onLink && onLink(true);
  source.onerror = () => onLink && onLink(false);
  return source;
}
