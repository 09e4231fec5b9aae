// Server time for countdowns: the server stamps every event with `at`; the smallest
// (local receipt − at) seen so far is the best guess of how far this clock is off, so a
// countdown shows the server's remaining time even when the computer's clock is wrong.

let offset = null;  // ms: local clock minus server clock (plus the shortest delivery time)

/** Feed every live event: store.subscribe("*", (ev) => observe(ev.at)). */
export function observe(at) {
  const server = Date.parse(at);
  if (Number.isNaN(server)) return;
  const delta = Date.now() - server;
  // Replayed events are old: they only ever raise the delta, so the minimum ignores them.
  if (offset === null || delta < offset) offset = delta;
}

export function serverNow() {
  return Date.now() - (offset ?? 0);
}

/** Seconds from now until an ISO time (negative once it has passed). */
export function secondsUntil(iso) {
  return (Date.parse(iso) - serverNow()) / 1000;
}

/** Seconds since an ISO time. */
export function secondsSince(iso) {
  return (serverNow() - Date.parse(iso)) / 1000;
}

/** 75 -> "1:15", 3700 -> "1:01:40". */
export function clockText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return hh ? `${hh}:${pad(mm)}:${pad(ss)}` : `${mm}:${pad(ss)}`;
}

/** One shared one-second tick for every running clock on the page. */
const tickers = new Set();
let interval = null;

export function onTick(fn) {
  tickers.add(fn);
  if (interval === null) {
    interval = setInterval(() => {
      for (const f of tickers) {
        try { f(); } catch (err) { console.error("tick failed", err); }
      }
    }, 1000);
  }
  return () => tickers.delete(fn);
}
