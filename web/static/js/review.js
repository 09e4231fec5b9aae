// Search over the read-only minutes: hides every entry, row or poll that does not contain
// all the words typed (case-insensitive), and sections left with nothing to show.

const input = document.getElementById("review-search");
const status = document.getElementById("review-search-status");
const none = document.getElementById("review-search-none");
const record = document.getElementById("review-record");

const items = record ? Array.from(record.querySelectorAll("[data-search]")) : [];
const index = items.map((el) => el.textContent.toLocaleLowerCase());
const sections = record ? Array.from(record.querySelectorAll(".m-topic, .m-section")) : [];

function apply() {
  const words = input.value.toLocaleLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  items.forEach((el, i) => {
    const hit = words.every((w) => index[i].includes(w));
    el.hidden = !hit;
    if (hit) shown += 1;
  });
  for (const section of sections) {
    const own = section.querySelectorAll("[data-search]");
    section.hidden = words.length > 0 && own.length > 0 &&
      Array.from(own).every((el) => el.hidden);
  }
  if (!words.length) {
    status.textContent = "";
    none.hidden = true;
    for (const section of sections) section.hidden = false;
    return;
  }
  status.textContent = (input.dataset.countTemplate || "{n}").replace("{n}", String(shown));
  none.hidden = shown > 0;
}

if (input && record) {
  input.addEventListener("input", apply);
  const fromUrl = new URLSearchParams(location.search).get("q");
  if (fromUrl) {
    input.value = fromUrl;
    apply();
  }
}

// ---- Review and approval (docs/protocol.md §9) ----------------------------------------
// Each entry of the record gets an "Anmerken" button (for those who took part): a comment
// or a proposed correction. Moderators accept or reject proposals, write down answers;
// the organizer fills in the head and approves. Every action is one POST to the API and
// the page is loaded again, so what it shows is always the journal's state.

const panel = document.getElementById("review-panel");
const message = document.getElementById("rv-message");

function token() {
  return new URLSearchParams(location.search).get("token");
}

async function post(path, body) {
  const headers = { "Content-Type": "application/json" };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  const r = await fetch(`/api/events/${panel.dataset.event}/minutes/${path}`, {
    method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin",
  });
  if (!r.ok) {
    let text = String(r.status);
    try { text = (await r.json()).error.message; } catch { /* not JSON */ }
    throw new Error(text);
  }
  return r.json();
}

async function run(action) {
  try {
    await action();
    location.reload();
  } catch (err) {
    message.textContent = (panel.dataset.failed || "{message}").replace("{message}", err.message);
    message.focus();
  }
}

function fields(form) {
  const out = {};
  for (const el of form.elements) {
    if (el.name && el.type !== "radio" && el.type !== "submit" && el.type !== "button") {
      out[el.name] = el.value;
    }
  }
  return out;
}

function remarkForm(li) {
  const tpl = document.getElementById("rv-remark-form");
  const form = tpl.content.firstElementChild.cloneNode(true);
  const textLabel = form.querySelector("[data-label-comment]");
  const reason = form.querySelector(".rv-reason");
  const area = form.querySelector("textarea[name=text]");
  form.addEventListener("change", () => {
    const proposal = form.querySelector("input[name=what]:checked").value === "proposals";
    textLabel.firstChild.textContent = proposal ? textLabel.dataset.labelProposal
      : textLabel.dataset.labelComment;
    reason.hidden = !proposal;
    if (proposal && !area.value) area.value = li.dataset.text || "";
  });
  form.querySelector("[data-cancel]").addEventListener("click", () => {
    form.remove();
    li.querySelector(".rv-remark").focus();
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const what = form.querySelector("input[name=what]:checked").value;
    const body = { entry: li.dataset.entry, text: area.value };
    if (what === "proposals") body.reason = form.querySelector("textarea[name=reason]").value;
    run(() => post(what, body));
  });
  return form;
}

if (panel) {
  if (panel.dataset.mayComment === "true" && record) {
    for (const li of record.querySelectorAll("[data-entry]")) {
      const textEl = li.querySelector(".m-kind");
      // the entry's own text: the node after the kind label, up to the meta line
      li.dataset.text = Array.from(li.childNodes)
        .filter((n) => n !== textEl && !(n.classList && n.classList.contains("m-meta")))
        .map((n) => n.textContent).join("").trim();
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn--small btn--quiet rv-remark";
      button.textContent = panel.dataset.remark;
      button.setAttribute("aria-label",
        (panel.dataset.remarkLabel || "{text}").replace("{text}", li.dataset.text.slice(0, 80)));
      button.addEventListener("click", () => {
        if (li.querySelector(".rv-form--remark")) return;
        const form = remarkForm(li);
        li.append(form);
        form.querySelector("textarea[name=text]").focus();
      });
      li.append(" ", button);
    }
  }
  for (const button of panel.querySelectorAll("[data-decide]")) {
    const id = button.closest("[data-proposal]").dataset.proposal;
    button.addEventListener("click", () =>
      run(() => post(`proposals/${id}`, { decision: button.dataset.decide })));
  }
  for (const form of panel.querySelectorAll("form[data-post]:not(.rv-form--remark)")) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const body = fields(form);
      if (form.dataset.question) body.question = form.dataset.question;
      run(() => post(form.dataset.post, body));
    });
  }
}

// Recordings: an entry written while its room was recorded gets "Anhören ab 12:34", which
// plays the room's recording from that moment (HTTP Range lets the player seek).
const players = document.getElementById("rv-recordings");
if (players && record) {
  for (const li of record.querySelectorAll("[data-recording]")) {
    const audio = document.getElementById(`rec-${li.dataset.recording}`);
    if (!audio) continue;
    const secs = Number(li.dataset.offset) || 0;
    const t = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn--small btn--quiet rv-listen";
    button.textContent = (players.dataset.listen || "{t}").replace("{t}", t);
    button.setAttribute("aria-label", (players.dataset.listenLabel || "{t}: {text}")
      .replace("{t}", t).replace("{text}", (li.dataset.text || li.textContent).trim().slice(0, 80)));
    button.addEventListener("click", () => {
      audio.currentTime = secs;
      audio.scrollIntoView({ block: "center" });
      audio.play().catch(() => { /* autoplay refused: the player is there, at the moment */ });
    });
    li.append(" ", button);
  }
}
