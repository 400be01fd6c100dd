// Tierdesk canned replies: the ticket page's picker. A button (or Alt+R, also while typing the reply) opens a
// list with a search field; typing filters it, the arrow keys move the highlight, Enter inserts the highlighted
// reply at the cursor of the reply box, Esc closes. The replies come as JSON, already filled in for this
// ticket by the server, and go into the textarea's value and text nodes only: never into HTML.
// No inline scripts (CSP script-src 'self').
(function () {
  "use strict";
  const root = document.getElementById("canned");
  if (!root) return;
  const reply = document.getElementById(root.dataset.target);
  const opener = document.getElementById("canned-open");
  const panel = document.getElementById("canned-panel");
  const search = document.getElementById("canned-search");
  const list = document.getElementById("canned-list");
  const status = document.getElementById("canned-status");
  if (!reply || !opener || !panel || !search || !list) return;

  let replies = [];
  let shown = [];
  let highlighted = 0;
  let loaded = false;

  function words(text) { return text.toLocaleLowerCase().split(/\s+/).filter(Boolean); }

  function draw() {
    const wanted = words(search.value);
    shown = replies.filter((r) => {
      const hay = `${r.title}\n${r.text}`.toLocaleLowerCase();
      return wanted.every((w) => hay.includes(w));
    });
    highlighted = Math.min(highlighted, Math.max(0, shown.length - 1));
    list.replaceChildren(...shown.map((r, i) => {
      const item = document.createElement("li");
      item.id = `canned-item-${r.id}`;
      item.className = "canned-item";
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", i === highlighted ? "true" : "false");
      item.dataset.id = String(r.id);
      const title = document.createElement("strong");
      title.textContent = r.title;  // text only: never HTML from the server
      const preview = document.createElement("span");
      preview.className = "canned-item-text";
      preview.textContent = r.text.length > 140 ? `${r.text.slice(0, 140)}…` : r.text;
      item.append(title, preview);
      item.addEventListener("mousedown", (event) => { event.preventDefault(); insert(r); });
      return item;
    }));
    const current = list.children[highlighted];
    if (current) {
      search.setAttribute("aria-activedescendant", current.id);
      current.scrollIntoView({ block: "nearest" });
    } else {
      search.removeAttribute("aria-activedescendant");
    }
    if (!loaded) status.textContent = root.dataset.loading;
    else if (!replies.length) status.textContent = root.dataset.none;
    else status.textContent = shown.length ? "" : root.dataset.noMatch;
  }

  async function load() {
    try {
      const response = await fetch(root.dataset.url, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      replies = await response.json();
      loaded = true;
      draw();
    } catch (error) {
      if (!loaded) status.textContent = root.dataset.error;
    }
  }

  function open() {
    panel.hidden = false;
    opener.setAttribute("aria-expanded", "true");
    search.value = "";
    highlighted = 0;
    draw();
    search.focus();
    load();  // every time: replies written in another tab since show up
  }

  function close(backToReply) {
    panel.hidden = true;
    opener.setAttribute("aria-expanded", "false");
    if (backToReply) reply.focus();
  }

  function insert(item) {
    // The textarea keeps its cursor and selection while the search field has the focus.
    const start = reply.selectionStart ?? reply.value.length;
    const end = reply.selectionEnd ?? start;
    reply.setRangeText(item.text, start, end, "end");
    reply.dispatchEvent(new Event("input", { bubbles: true }));
    close(true);
  }

  opener.addEventListener("click", () => (panel.hidden ? open() : close(true)));
  search.addEventListener("input", () => { highlighted = 0; draw(); });
  search.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      if (shown.length) highlighted = (highlighted + step + shown.length) % shown.length;
      draw();
    } else if (event.key === "Enter") {
      event.preventDefault();  // the picker sits in the reply form: Enter must not send it
      if (shown[highlighted]) insert(shown[highlighted]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close(true);
    }
  });
  search.addEventListener("blur", (event) => {
    // A click elsewhere closes the list. A click on an item inserts first (on mousedown, keeping the focus);
    // one on the button toggles it itself.
    if (root.contains(event.relatedTarget)) return;
    setTimeout(() => { if (!panel.contains(document.activeElement)) close(false); }, 0);
  });

  // Alt+R anywhere on the ticket page, typing or not (desk.js leaves Alt combinations alone). The physical key,
  // so that layouts where Alt+R types a character (macOS, Russian) open the picker as well.
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || event.code !== "KeyR") return;
    event.preventDefault();
    if (panel.hidden) open(); else close(true);
  });
})();
