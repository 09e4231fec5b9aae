// Who I am in one event: token and participant, kept per event *and* invitation key, so
// that a reload rejoins as the same person and a moderator link is a separate identity.

const PREFIX = "forum-live:session";

const storageKey = (eventId, key) => `${PREFIX}:${eventId}:${key}`;

export function loadSession(eventId, key) {
  try {
    const raw = localStorage.getItem(storageKey(eventId, key));
    if (!raw) return null;
    const session = JSON.parse(raw);
    return session && typeof session.token === "string" && session.participant ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(eventId, key, session) {
  try {
    localStorage.setItem(storageKey(eventId, key), JSON.stringify(session));
  } catch { /* private mode: this tab still works, a reload asks again */ }
}

export function forgetSession(eventId, key) {
  try {
    localStorage.removeItem(storageKey(eventId, key));
  } catch { /* nothing stored */ }
}

/** The invitation key of this page: in the fragment (`/e/{id}#key=...`, never sent to a
 * server), or from an old link's query string. */
export function inviteKeyOf(loc) {
  const hash = new URLSearchParams((loc.hash || "").replace(/^#/, ""));
  return hash.get("key") || new URLSearchParams(loc.search).get("key") || "";
}

/** Exchange the token for the event's HttpOnly cookie, so review and download links
 * carry no token in their URL. Best effort: without it those pages ask to join again. */
export async function openCookieSession(eventId, token) {
  try {
    await fetch(`/api/events/${encodeURIComponent(eventId)}/session`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      credentials: "same-origin",
    });
  } catch { /* offline: the next start tries again */ }
}

export async function closeCookieSession(eventId) {
  try {
    await fetch(`/api/events/${encodeURIComponent(eventId)}/session`, { method: "DELETE", credentials: "same-origin" });
  } catch { /* nothing to forget */ }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** join(), and while the server says it is busy (429: many people behind one address)
 * wait its Retry-After (plus jitter, so an office does not come back all at once) and
 * try again; `onBusy(seconds)` tells the page. */
export async function joinPatiently(eventId, key, name, organization, onBusy = () => {}) {
  for (;;) {
    try {
      return await join(eventId, key, name, organization);
    } catch (err) {
      if (err.message !== "busy") throw err;
      const wait = Math.max(1, err.retryAfter || 1);
      onBusy(wait);
      await sleep(1000 * wait * (1 + Math.random()));
    }
  }
}

/** POST /api/events/{id}/join; resolves {token, participant} or throws Error(code). */
export async function join(eventId, key, name, organization) {
  let response;
  try {
    response = await fetch(`/api/events/${encodeURIComponent(eventId)}/join`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ name, organization: organization || null, key }),
    });
  } catch {
    throw new Error("network");
  }
  if (response.ok) return response.json();
  if (response.status === 403) throw new Error("key");
  if (response.status === 404) throw new Error("not_found");
  if (response.status === 422) throw new Error("name");
  if (response.status === 429) {
    const err = new Error("busy");
    err.retryAfter = Number(response.headers.get("Retry-After")) || 1;
    throw err;
  }
  throw new Error("generic");
}
