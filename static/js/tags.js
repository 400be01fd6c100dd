// Tierdesk tags: suggestions for the tag inputs (the ticket page's "add tags" field and the queue's tag
// filter), read from /desk/tags/?q= into the input's <datalist>. The ticket field takes several tags separated
// by commas: only the part after the last comma is looked up, and each suggestion keeps what came before it.
(function () {
  "use strict";
  const WAIT_MS = 150;

  function attach(input) {
    const list = document.getElementById(input.getAttribute("list"));
    const url = input.dataset.suggestUrl;
    if (!list || !url) return;
    let timer = null;
    let asked = null;

    function fill(names, before) {
      list.replaceChildren(...names.map((name) => {
        const option = document.createElement("option");
        option.value = before + name;
        return option;
      }));
    }

    function lookup() {
      const text = input.value;
      const cut = input.name === "add" ? text.lastIndexOf(",") + 1 : 0;
      const before = cut ? text.slice(0, cut).trimEnd() + " " : "";
      const prefix = text.slice(cut).trim().toLowerCase();
      const key = before + "\u0000" + prefix;
      if (key === asked) return;
      asked = key;
      fetch(url + "?q=" + encodeURIComponent(prefix), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json() : { results: [] }))
        .then((body) => { if (asked === key) fill(body.results || [], before); })
        .catch(() => {});
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(lookup, WAIT_MS);
    });
    input.addEventListener("focus", lookup);
  }

  document.querySelectorAll("input[data-suggest-url][list]").forEach(attach);
})();
