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
