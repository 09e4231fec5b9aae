// Load the full state anew with `state.sync` (after admission, a return to the waiting
// room or a change of my role). Events that arrive while the request is under way are
// replayed on top of the fresh state: nothing is lost and nothing applied twice.

export function makeResync(store, socket) {
  let syncing = 0;
  let buffer = [];
  store.subscribe("*", (ev) => { if (syncing) buffer.push(ev); });

  return async function resync(attempt = 0) {
    if (!store.ready || !socket()) return false;
    syncing += 1;
    let retry = false;
    let done = false;
    try {
      const reply = await socket().request("state.sync");
      if (store.ready && reply.state) {
        const later = buffer.filter((e) => e.seq > reply.seq);
        store.reset(reply.state, reply.seq);
        for (const e of later) store.apply(e);
        done = true;
      }
    } catch (err) {
      retry = attempt < 40 && ["offline", "interrupted"].includes(err.code);
    } finally {
      syncing -= 1;
      if (!syncing) buffer = [];
    }
    if (retry) setTimeout(() => resync(attempt + 1), Math.min(3000, 250 * (attempt + 1)));
    return done;
  };
}

/** The catalog key for a failed request's error code. */
export function errorKey(err) {
  if (!err) return "err_generic";
  if (err.code === "forbidden") return "err_forbidden";
  if (err.code === "offline" || err.code === "interrupted") return "err_offline";
  return "err_generic";
}
