// Tierdesk knowledge base: the ticket page's suggestions (loaded after the page, used without a reload)
// and the help articles offered under the report form as the customer types. No inline scripts (CSP).
(function () {
  "use strict";

  // --- agents: suggestions on the ticket page -----------------------------------
  const panel = document.getElementById("suggestions");
  if (panel) {
    const body = panel.querySelector(".suggestions-body");
    async function load() {
      try {
        const response = await fetch(panel.dataset.url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
        if (response.ok) body.innerHTML = await response.text();  // our own template, escaped server-side
      } catch (error) { /* keep the link to the suggestions page */ }
    }
    load();
    body.addEventListener("submit", async (event) => {
      const form = event.target.closest("form.use-form");
      if (!form || !form.hasAttribute("data-paste")) return;
      const reply = document.getElementById("comment-body");
      if (!reply) return;  // no reply box: let the form post and come back with the reply prefilled
      event.preventDefault();
      const text = form.closest(".suggestion").querySelector(".paste-text").value;
      const response = await fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "X-Requested-With": "fetch" },
      });
      if (!response.ok) { form.submit(); return; }  // show the refusal the normal way
      reply.value = reply.value.trim() ? `${reply.value.trimEnd()}\n\n${text}` : text;
      reply.focus();
      reply.scrollIntoView({ block: "center" });
      form.querySelector("button").disabled = true;
      form.closest(".suggestion").classList.add("used");
    });
  }

  // --- customers: help articles while they describe the problem -----------------
  const deflect = document.getElementById("deflect");
  const subject = document.getElementById("id_subject");
  if (deflect && subject) {
    let timer = null;
    let asked = "";
    subject.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const text = subject.value.trim();
        if (text === asked) return;
        asked = text;
        if (text.length < 3) { deflect.innerHTML = ""; return; }
        try {
          const response = await fetch(`${deflect.dataset.url}?q=${encodeURIComponent(text)}`, { credentials: "same-origin" });
          if (!response.ok || asked !== text) return;
          // Parsed as a document of its own: #deflect sits inside the report form, and innerHTML would drop
          // the articles' own "This solved it" forms (the HTML parser ignores a <form> inside a form), so
          // their buttons would submit the report form instead.
          const html = new DOMParser().parseFromString(await response.text(), "text/html");
          if (asked === text) deflect.replaceChildren(...html.body.childNodes);
        } catch (error) { /* offline: the form still works */ }
      }, 300);
    });
  }
})();
