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
  throw new Error("generic");
}
