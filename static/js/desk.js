// Tierdesk desk: keyboard shortcuts, the self-refreshing queue, ticking SLA
// countdowns, and caller suggestions. No inline scripts (CSP script-src 'self').
(function () {
  "use strict";
  const REFRESH_MS = 15000;
  const lang = document.documentElement.lang || "en";

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  // --- keyboard help ----------------------------------------------------------
  const help = document.getElementById("shortcuts");
  function toggleHelp(show) {
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
    if (!help.hidden) document.getElementById("shortcuts-close").focus();
  }
  document.getElementById("shortcuts-open")?.addEventListener("click", () => toggleHelp(true));
  document.getElementById("shortcuts-close")?.addEventListener("click", () => toggleHelp(false));

  // --- queue rows: selection with j/k, open with Enter --------------------------
  function rows() { return Array.from(document.querySelectorAll("#queue-rows tr[data-ticket-id]")); }
  let selected = -1;
  function select(index) {
    const all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(all.length - 1, index));
    all.forEach((row, i) => row.classList.toggle("selected", i === selected));
    all[selected].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      if (help && !help.hidden) { toggleHelp(false); return; }
      if (typing(event.target)) event.target.blur();
      return;
    }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (key === "?") { event.preventDefault(); toggleHelp(); return; }
    if (help && !help.hidden) return;
    if (key === "/") { const s = document.getElementById("search"); if (s) { event.preventDefault(); s.focus(); } return; }
    if (key === "j") { select(selected + 1); return; }
    if (key === "k") { select(selected - 1); return; }
    if (key === "Enter" && selected >= 0) { const r = rows()[selected]; if (r) location.href = r.dataset.href; return; }
    if (key === "g") { location.href = "/desk/"; return; }
    const link = document.querySelector(`[data-shortcut="${CSS.escape(key)}"]`);
    if (link) { event.preventDefault(); link.click(); return; }
    const submit = document.querySelector(`[data-shortcut-submit="${CSS.escape(key)}"]`);
    if (submit) { event.preventDefault(); submit.click(); return; }
    const field = document.querySelector(`[data-shortcut-focus="${CSS.escape(key)}"]`);
    if (field) { event.preventDefault(); field.focus(); field.scrollIntoView({ block: "center" }); }
  });

  // --- SLA countdowns -----------------------------------------------------------
  const relative = new Intl.RelativeTimeFormat(lang, { numeric: "always", style: "short" });
  function describe(ms) {
    const minutes = Math.round(ms / 60000);
    if (Math.abs(minutes) < 60) return relative.format(minutes, "minute");
    const hours = Math.round(minutes / 60);
    if (Math.abs(hours) < 48) return relative.format(hours, "hour");
    return relative.format(Math.round(hours / 24), "day");
  }
  function tick() {
    const now = Date.now();
    document.querySelectorAll("time.sla[data-due]").forEach((el) => {
      const left = Date.parse(el.dataset.due) - now;
      el.textContent = describe(left);
      const state = left <= 0 ? "breached" : left <= 3600e3 ? "urgent" : left <= 4 * 3600e3 ? "soon" : "ok";
      el.className = `sla sla-${state}`;
    });
  }
  tick();
  setInterval(tick, 30000);

  // --- the queue refreshes itself, keeping filters and the selection ------------
  const table = document.getElementById("queue");
  if (table) {
    const body = document.getElementById("queue-rows");
    async function refresh() {
      if (document.hidden) return;
      const url = new URL(location.href);
      url.searchParams.set("partial", "1");
      try {
        const response = await fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" });
        if (!response.ok) return;
        const keep = rows()[selected]?.dataset.ticketId;
        body.innerHTML = await response.text();
        tick();
        if (keep) { const i = rows().findIndex((r) => r.dataset.ticketId === keep); if (i >= 0) select(i); }
      } catch (error) { /* offline for a moment: try again at the next interval */ }
    }
    setInterval(refresh, REFRESH_MS);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
    body.addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-ticket-id]");
      if (row && !event.target.closest("a")) location.href = row.dataset.href;
    });
  }

  // --- the reply being written survives the ticket page's other forms -------------
  // Taking, linking a suggestion or saving the diagnosis reloads the page; what the agent typed in the reply
  // box is kept for this tab (sessionStorage) and put back, until the reply itself is sent.
  const article = document.querySelector("article.ticket[data-ticket-id]");
  const reply = document.getElementById("comment-body");
  if (article && reply) {
    const key = `tierdesk-reply-${article.dataset.ticketId}`;
    const kept = sessionStorage.getItem(key);
    if (kept && !reply.value.trim()) reply.value = kept;
    sessionStorage.removeItem(key);
    document.addEventListener("submit", (event) => {
      if (event.target.id === "comment-form") return;
      if (reply.value.trim()) sessionStorage.setItem(key, reply.value);
    });
  }

  // --- caller suggestions on "Log a call" ---------------------------------------
  const email = document.getElementById("requester-email");
  if (email && email.dataset.suggest) {
    const list = document.getElementById("requester-suggestions");
    const name = document.getElementById("requester-name");
    let known = {};
    email.addEventListener("input", async () => {
      const text = email.value.trim();
      if (known[text] !== undefined && name && !name.value) { name.value = known[text]; return; }
      if (text.length < 2) return;
      const response = await fetch(`${email.dataset.suggest}?q=${encodeURIComponent(text)}`, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      known = {};
      list.replaceChildren(...data.results.map((r) => {
        known[r.email] = r.name;
        const option = document.createElement("option");
        option.value = r.email;
        option.textContent = r.name;  // text only: never HTML from the server
        return option;
      }));
    });
  }
})();
