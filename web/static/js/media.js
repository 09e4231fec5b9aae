// Audio, video and screen share over WebRTC with the server (forum_live/media).
// The server is the offerer: we answer its offers, trickle our candidates, and switch our
// camera/screen tracks in with replaceTrack (no renegotiation). See docs/protocol.md §8.
// A person stays in the audio until they leave: when the socket comes back (the server
// restarted, or another node took the event over) or the peer connection fails, the page
// joins again by itself with the same microphone, mute state and camera.

import { $, clear, h, show, setText } from "./dom.js";
import { t } from "./i18n.js";
import { isModerator } from "./state.js";
import { personExtras } from "./participants.js";

// What other modules may ask of the audio connection (the floor prompt, the ended state).
export const audio = { joined: () => false, muted: () => false, join: () => {}, unmute: () => {}, leave: () => {} };

// Rejoins after a failure (not after a reconnect, which always rejoins at once) wait 1, 2,
// 4 … 15 s; after this many in a row without a connection the page gives up and says so.
const REJOIN_TRIES = 8;

export function install({ store, socket, onDirect, onReady }) {
  const el = {
    join: $("#media-join"), setup: $("#media-setup"), mic: $("#media-mic"), level: $("#media-level"),
    audioOnly: $("#media-audio-only"), connect: $("#media-connect"), mute: $("#media-mute"),
    camera: $("#media-camera"), screen: $("#media-screen"), leave: $("#media-leave"),
    record: $("#media-record"), recording: $("#media-recording"), consent: $("#media-consent"),
    consentOk: $("#media-consent-ok"), error: $("#media-error"), status: $("#media-status"),
    tiles: $("#media-tiles"), audio: $("#media-audio"),
  };
  let pc = null, mic = null, mids = {}, layout = [], speaking = new Set();
  let camTrack = null, screenTrack = null, muted = false, consented = null, meter = null;
  const remote = new Map();  // mid -> MediaStream
  // While the person is in the audio (from "connect" until they leave or it fails for
  // good): {video} as they joined. A lost peer connection is then joined again.
  let wanted = null, rejoinTimer = null, rejoinTries = 0;

  store.onReset((model, state) => {
    model.recordings = (state.recordings || []).map((r) => ({ ...r }));
    model.muted = new Set(state.muted || []);
    model.mic = { locked: false, allowed: false, ...(state.mic || {}) };
  });
  store.on("media.locked", (model, ev) => {
    if (ev.room && ev.room !== model.myRoom) return;
    model.mic = { locked: Boolean(ev.locked), allowed: false };
  });
  store.on("media.unmute_asked", (model, ev) => {
    if (ev.participant === model.me.id && model.mic.locked) model.mic.allowed = true;
  });
  store.on("recording.started", (model, ev) => {
    model.recordings.push({ id: ev.id, room: ev.room, file: ev.file, active: true, started_at: ev.at });
  });
  store.on("recording.stopped", (model, ev) => {
    const r = model.recordings.find((x) => x.id === ev.id);
    if (r) Object.assign(r, { active: false, duration_s: ev.duration_s, stopped_at: ev.at });
  });
  store.on("media.muted", (model, ev) => {
    if (ev.muted) model.muted.add(ev.participant); else model.muted.delete(ev.participant);
  });

  const myRoom = () => (store.ready ? store.model.me.room || store.model.my_room : null);
  const recordingHere = () => store.ready && (store.model.recordings || []).some((r) => r.active && r.room === (store.model.my_room || myRoom()));

  function fail(key) {
    setText(el.error, key ? t(key) : "");
    show(el.error, Boolean(key));
  }

  function redraw() {
    if (!store.ready) return;
    const rec = recordingHere();
    show(el.recording, rec);
    show(el.record, isModerator(store.model));
    setText(el.record, t(rec ? "media.record_stop" : "media.record_start"));
    el.record.setAttribute("aria-pressed", String(rec));
    if (rec && pc && consented !== myRoom()) askConsent();
    const me = store.model.me.id;
    if (store.model.muted && store.model.muted.has(me) && !muted && mic) setMuted(true, false);
  }
  store.subscribe("*", redraw);
  store.subscribe("reset", redraw);

  // -- device check ----------------------------------------------------------------------
  async function openMic(deviceId) {
    if (mic) mic.getTracks().forEach((x) => x.stop());
    mic = await navigator.mediaDevices.getUserMedia({ audio: deviceId ? { deviceId: { exact: deviceId } } : true });
    startMeter();
    if (pc) {
      const tr = pc.getTransceivers().find((x) => mids[x.mid] === "audio");
      if (tr) await tr.sender.replaceTrack(mic.getAudioTracks()[0]);
    }
  }

  function startMeter() {
    if (meter) meter.ctx.close();
    const ctx = new AudioContext();
    const an = ctx.createAnalyser();
    ctx.createMediaStreamSource(mic).connect(an);
    const buf = new Uint8Array(an.fftSize);
    meter = { ctx };
    const step = () => {
      if (!meter || meter.ctx !== ctx) return;
      an.getByteTimeDomainData(buf);
      let peak = 0;
      for (const v of buf) peak = Math.max(peak, Math.abs(v - 128) / 128);
      el.level.value = peak;
      requestAnimationFrame(step);
    };
    step();
  }

  el.join.addEventListener("click", async () => {
    fail(null);
    try {
      await openMic();
    } catch (err) {
      fail(err && err.name === "NotAllowedError" ? "media.mic_denied" : "media.mic_missing");
      return;
    }
    clear(el.mic);
    for (const d of await navigator.mediaDevices.enumerateDevices()) {
      if (d.kind === "audioinput") el.mic.append(h("option", { value: d.deviceId }, d.label || t("media.mic_default")));
    }
    show(el.setup, true);
    show(el.join, false);
  });
  el.mic.addEventListener("change", () => openMic(el.mic.value).catch(() => fail("media.mic_missing")));
  el.connect.addEventListener("click", () => connect());

  function askConsent() {
    show(el.consent, true);
    if (mic) mic.getAudioTracks().forEach((x) => { x.enabled = false; });
  }
  el.consentOk.addEventListener("click", () => {
    consented = myRoom();
    show(el.consent, false);
    if (mic && !muted) mic.getAudioTracks().forEach((x) => { x.enabled = true; });
    if (!pc) connect();
  });

  // -- the peer connection ---------------------------------------------------------------
  async function connect() {
    if (recordingHere() && consented !== myRoom()) { askConsent(); return; }
    show(el.setup, false);
    setText(el.status, t("media.connecting"));
    wanted = { video: !el.audioOnly.checked };
    rejoinTries = 0;
    try {
      await socket().request("media.join", wanted);
    } catch (err) {
      if (!lostSocket(err)) giveUp();  // else the next `ready` joins again
    }
  }

  // -- joining again -----------------------------------------------------------------------
  const lostSocket = (err) => Boolean(err && ["offline", "interrupted"].includes(err.code));

  function giveUp() {
    fail("media.failed");
    hangUp(false);
  }

  // The old peer connection is gone (the server closes it with the socket): a new one,
  // keeping the microphone, its mute state and the camera/screen tracks.
  function rejoin() {
    clearTimeout(rejoinTimer);
    rejoinTimer = null;
    if (!wanted) return;
    dropPeer();
    setText(el.status, t("media.reconnecting"));
    const s = socket();
    if (!s || !s.connected) return;  // the next `ready` comes back here
    s.request("media.join", wanted).catch((err) => {
      if (!wanted || lostSocket(err)) return;
      if (err && err.code === "forbidden") giveUp();  // media is off on this server now
      else rejoinLater();  // e.g. `unavailable` while the event moves to another node
    });
  }

  function rejoinLater() {
    if (!wanted || rejoinTimer) return;
    rejoinTries += 1;
    if (rejoinTries > REJOIN_TRIES) { giveUp(); return; }
    dropPeer();
    setText(el.status, t("media.reconnecting"));
    rejoinTimer = setTimeout(rejoin, Math.min(15000, 1000 * 2 ** (rejoinTries - 1)));
  }

  if (onReady) onReady(() => { if (wanted) rejoin(); });

  // An offer for the current peer; one that arrives after the page moved on to another
  // peer (a rejoin, a leave) is dropped at the next step (`stale`).
  class Stale extends Error {}
  function newPeer(iceServers) {
    const conn = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
    conn.onicecandidate = (ev) => {
      const c = ev.candidate;
      if (conn !== pc) return;
      socket().request("media.candidate", { candidate: c ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : null }).catch(() => {});
    };
    conn.ontrack = (ev) => {
      if (conn !== pc) return;
      const mid = ev.transceiver.mid;
      if (ev.track.kind === "audio") {
        el.audio.srcObject = new MediaStream([ev.track]);
        el.audio.play().catch(() => {});
      } else {
        remote.set(mid, new MediaStream([ev.track]));
        drawTiles();
      }
    };
    conn.onconnectionstatechange = () => {
      if (conn !== pc) return;
      if (conn.connectionState === "failed") rejoinLater();
      if (conn.connectionState === "connected") {
        rejoinTries = 0;
        setText(el.status, t("media.connected"));
        fail(null);
      }
    };
    return conn;
  }

  async function onOffer(f) {
    if (!wanted) return;  // left meanwhile
    const fresh = !pc;
    if (!pc) pc = newPeer(f.ice_servers || []);
    const conn = pc;
    const step = async (promise) => {
      const out = await promise;
      if (conn !== pc) throw new Stale();
      return out;
    };
    mids = f.mids || {};
    await step(conn.setRemoteDescription({ type: "offer", sdp: f.sdp }));
    for (const tr of conn.getTransceivers()) {
      const role = mids[tr.mid];
      if (role === "audio") { await step(tr.sender.replaceTrack(mic ? mic.getAudioTracks()[0] : null)); tr.direction = "sendrecv"; }
      else if (role === "camera") { await step(tr.sender.replaceTrack(camTrack)); tr.direction = "sendonly"; }
      else if (role === "screen") { await step(tr.sender.replaceTrack(screenTrack)); tr.direction = "sendonly"; }
    }
    await step(conn.setLocalDescription(await step(conn.createAnswer())));
    await step(socket().request("media.answer", { sdp: conn.localDescription.sdp }));
    for (const b of [el.mute, el.camera, el.screen, el.leave]) show(b, true);
    show(el.camera, wanted.video);
    show(el.screen, wanted.video);
    if (fresh) await step(restore());
  }

  // A new peer after a rejoin: the server learns again what this person had on.
  async function restore() {
    if (camTrack) await socket().request("media.publish", { kind: "camera", active: true });
    if (screenTrack) await socket().request("media.publish", { kind: "screen", active: true });
    const me = store.ready ? store.model.me.id : null;
    if (muted && me && !(store.model.muted && store.model.muted.has(me))) {
      await socket().request("media.mute", { muted: true });
    }
    if (pinned) tellPinned();
  }

  function dropPeer() {
    if (pc) pc.close();
    pc = null;
    remote.clear(); layout = [];
    drawTiles();
  }

  function hangUp(tell = true) {
    wanted = null;
    clearTimeout(rejoinTimer);
    rejoinTimer = null;
    if (tell && socket()) socket().request("media.leave", {}).catch(() => {});
    dropPeer();
    for (const s of [mic, camTrack && new MediaStream([camTrack]), screenTrack && new MediaStream([screenTrack])]) {
      if (s) s.getTracks().forEach((x) => x.stop());
    }
    mic = camTrack = screenTrack = null;
    if (meter) { meter.ctx.close(); meter = null; }
    for (const b of [el.mute, el.camera, el.screen, el.leave]) show(b, false);
    show(el.join, true);
    setText(el.status, "");
  }
  el.leave.addEventListener("click", () => hangUp(true));

  // -- mute ------------------------------------------------------------------------------
  // Locked microphones: only moderators, whoever has the floor and whoever was asked unmute.
  function locked() {
    if (!store.ready || !store.model.mic || !store.model.mic.locked || store.model.mic.allowed) return false;
    if (isModerator(store.model)) return false;
    const f = store.model.floor && store.model.floor.get(store.model.myRoom);
    return !(f && f.participant === store.model.me.id);
  }
  function setMuted(value, tell = true) {
    if (!value && tell && locked()) { fail("media.locked_hint"); return; }
    muted = value;
    if (mic) mic.getAudioTracks().forEach((x) => { x.enabled = !value; });
    el.mute.setAttribute("aria-pressed", String(value));
    setText(el.mute, t(value ? "media.unmute" : "media.mute"));
    if (!value) fail(null);
    if (tell) {
      socket().request("media.mute", { muted: value }).catch((err) => {
        if (!value && err && err.code === "forbidden") { setMuted(true, false); fail("media.locked_hint"); }
      });
    }
  }
  store.subscribe("media.locked", (ev) => {
    if (ev.room && ev.room !== store.model.myRoom) return;
    setText(el.status, t(ev.locked ? "media.locked_notice" : "media.unlocked_notice"));
  });
  el.mute.addEventListener("click", () => setMuted(!muted));
  document.addEventListener("keydown", (ev) => {
    const tag = (ev.target && ev.target.tagName) || "";
    if (ev.key.toLowerCase() === "m" && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !["INPUT", "TEXTAREA", "SELECT"].includes(tag) && wanted) {
      ev.preventDefault();
      setMuted(!muted);
    }
  });

  // -- camera and screen -----------------------------------------------------------------
  async function publish(kind, track) {
    const tr = pc && pc.getTransceivers().find((x) => mids[x.mid] === kind);
    if (!tr) return;
    await tr.sender.replaceTrack(track);
    await socket().request("media.publish", { kind, active: Boolean(track) });
  }
  el.camera.addEventListener("click", async () => {
    try {
      if (camTrack) { camTrack.stop(); camTrack = null; }
      else camTrack = (await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } })).getVideoTracks()[0];
      await publish("camera", camTrack);
      el.camera.setAttribute("aria-pressed", String(Boolean(camTrack)));
      drawTiles();
    } catch { fail("media.camera_denied"); }
  });
  el.screen.addEventListener("click", async () => {
    try {
      if (screenTrack) { screenTrack.stop(); screenTrack = null; }
      else {
        screenTrack = (await navigator.mediaDevices.getDisplayMedia({ video: true })).getVideoTracks()[0];
        screenTrack.addEventListener("ended", () => { screenTrack = null; publish("screen", null); });
      }
      await publish("screen", screenTrack);
      el.screen.setAttribute("aria-pressed", String(Boolean(screenTrack)));
    } catch { fail("media.screen_failed"); }
  });

  // -- recording -------------------------------------------------------------------------
  el.record.addEventListener("click", async () => {
    try {
      await socket().request(recordingHere() ? "recording.stop" : "recording.start", {});
    } catch (err) { fail("media.record_failed"); }
  });

  // -- tiles: one large on the stage (pinned, a screen share, or who speaks), the rest as a strip
  const focusBox = $("#stage-focus");
  const stageEmpty = $("#stage-empty");
  const slidesView = $("#slides-view");
  let pinned = null;   // tile key the person chose to see large
  let lastSpeaker = null;
  function nameOf(pid) {
    const people = store.ready ? store.model.participants : null;
    const p = people && typeof people.get === "function" ? people.get(pid) : null;
    return (p && p.name) || "";
  }
  const isMuted = (pid) => Boolean(store.ready && store.model.muted && store.model.muted.has(pid));
  function tiles() {
    const out = [];
    if (camTrack) out.push({ key: "self", stream: new MediaStream([camTrack]), label: t("media.you"), pid: store.ready ? store.model.me.id : null, kind: "camera", self: true });
    for (const slot of layout) {
      if (!slot.participant || !remote.has(slot.mid)) continue;
      const name = nameOf(slot.participant);
      out.push({ key: `${slot.kind}:${slot.participant}`, stream: remote.get(slot.mid), pid: slot.participant, kind: slot.kind,
        label: slot.kind === "screen" ? t("media.screen_of", { name }) : name });
    }
    return out;
  }
  function chooseFocus(all) {
    const byKey = new Map(all.map((x) => [x.key, x]));
    if (pinned && byKey.has(pinned)) return byKey.get(pinned);
    const screen = all.find((x) => x.kind === "screen");
    if (screen) return screen;
    if (slidesView && !slidesView.hidden) return null;
    const speaker = all.find((x) => x.kind === "camera" && !x.self && speaking.has(x.pid));
    if (speaker) lastSpeaker = speaker.key;
    if (lastSpeaker && byKey.has(lastSpeaker)) return byKey.get(lastSpeaker);
    return all.find((x) => !x.self) || null;
  }
  function tile(x, large) {
    const video = h("video", { class: "media__video", autoplay: true, muted: true, playsInline: true });
    video.srcObject = x.stream;
    const isPinned = pinned === x.key;
    const pin = h("button", { type: "button", class: "btn btn--small media__pin", attrs: {
      "aria-pressed": String(isPinned), "aria-label": t(isPinned ? "meeting.unpin_label" : "meeting.pin_label", { name: x.label }) },
    on: { click: () => { pinned = isPinned ? null : x.key; tellPinned(); drawTiles(); } } }, t(isPinned ? "meeting.unpin" : "meeting.pin"));
    const muted = x.pid && isMuted(x.pid) ? h("span", { class: "media__muted" }, ` (${t("meeting.muted")})`) : null;
    return h("figure", { class: `media__tile${large ? " media__tile--large" : ""}${x.pid && speaking.has(x.pid) ? " is-speaking" : ""}${x.self ? " media__tile--self" : ""}`,
      data: { participant: x.pid || "", kind: x.kind, key: x.key }, attrs: large ? {} : { role: "listitem" } },
    video, h("figcaption", {}, h("span", { class: "media__name" }, x.label), muted, pin));
  }
  // The server sends at most `video_tiles_max` tiles, chosen by who speaks: a pinned camera
  // is kept among them (media.pin).
  function tellPinned() {
    if (!pc) return;
    const pid = pinned && pinned.startsWith("camera:") ? pinned.slice(7) : null;
    socket().request("media.pin", { participants: pid ? [pid] : [] }).catch(() => {});
  }
  function drawTiles() {
    const all = tiles();
    const focus = chooseFocus(all);
    clear(el.tiles);
    clear(focusBox);
    if (focus) focusBox.append(tile(focus, true));
    for (const x of all) if (x !== focus) el.tiles.append(tile(x, false));
    show(focusBox, Boolean(focus));
    show(el.tiles, all.length - (focus ? 1 : 0) > 0);
    show(stageEmpty, !focus && (!slidesView || slidesView.hidden));
  }
  document.addEventListener("stage:change", drawTiles);
  store.subscribe("media.muted", drawTiles);
  store.subscribe("reset", drawTiles);
  audio.joined = () => Boolean(wanted);
  audio.muted = () => muted;
  audio.join = () => { if (!wanted) el.join.click(); };
  audio.unmute = () => { if (wanted) setMuted(false); };
  audio.leave = () => { if (wanted) hangUp(true); };

  onDirect("media.offer", (f) => onOffer(f).catch((err) => {
    if (!(err instanceof Stale) && !lostSocket(err)) rejoinLater();  // lost socket: `ready` rejoins
  }));
  onDirect("media.layout", (f) => { layout = f.slots || []; drawTiles(); });
  onDirect("media.speaking", (f) => {
    speaking = new Set(f.speakers || []);
    const speaker = [...speaking].find((pid) => layout.some((x) => x.participant === pid && x.kind === "camera"));
    if (speaker && !pinned && `camera:${speaker}` !== lastSpeaker && !layout.some((x) => x.kind === "screen")) {
      lastSpeaker = `camera:${speaker}`;
      drawTiles();
    }
    for (const fig of el.tiles.querySelectorAll(".media__tile")) fig.classList.toggle("is-speaking", speaking.has(fig.dataset.participant));
    for (const li of document.querySelectorAll("[data-participant]")) li.classList.toggle("is-speaking", speaking.has(li.dataset.participant));
  });
  // Moderators: each person's connection, as the server measures it (media.quality).
  let quality = new Map();
  function qualityTag(p) {
    const q = quality.get(p.id);
    if (!q || !store.ready || !isModerator(store.model)) return null;
    const bad = !q.connected || !q.audio || q.loss >= 0.05;
    const text = !q.connected ? t("media.q_lost") : !q.audio ? t("media.q_no_audio")
      : q.loss >= 0.05 ? t("media.q_loss", { pct: Math.round(q.loss * 100) }) : t("media.q_good");
    return h("span", { class: `tag person__conn${bad ? " person__conn--bad" : ""}` }, text);
  }
  personExtras.push(qualityTag);
  onDirect("media.quality", (f) => {
    quality = new Map(Object.entries(f.peers || {}));
    for (const li of document.querySelectorAll("#people-list li[data-participant]")) {
      const old = li.querySelector(".person__conn");
      const p = store.ready && store.model.participants.get(li.dataset.participant);
      const tag = p ? qualityTag(p) : null;
      if (old && tag && old.textContent === tag.textContent) continue;
      if (old) old.remove();
      if (tag) li.append(tag);
    }
  });
  // Replaced: this person joined the audio in another tab, which keeps it. Any other end
  // (failed, no answer, shutdown) is joined again.
  onDirect("media.closed", (f) => { if (f.reason === "replaced") hangUp(false); else rejoinLater(); });
  window.addEventListener("pagehide", () => { if (pc) pc.close(); });
}
