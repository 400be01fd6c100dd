// Bulk actions in a desk queue: ticking rows, "select all", showing only the chosen action's field, and keeping
// the ticks while the queue refreshes its rows (desk.js replaces them every few seconds).
(function () {
  "use strict";
  const form = document.getElementById("bulk-form");
  const table = document.getElementById("queue");
  if (!form || !table) return;
  const body = document.getElementById("queue-rows");
  const all = document.getElementById("bulk-all");
  const count = document.getElementById("bulk-count");
  const action = document.getElementById("bulk-action");
  const submit = document.getElementById("bulk-submit");
  const boxes = () => Array.from(body.querySelectorAll('input[type=checkbox][name="ids"]'));
  // The ticked ids, kept across the rows' refreshes (the server marks them again after a bulk run).
  const selected = new Set(boxes().filter((box) => box.checked).map((box) => box.value));

  function update() {
    const shown = boxes();
    const ticked = shown.filter((box) => box.checked).length;
    count.textContent = ticked ? count.dataset.some.replace("%(count)s", String(ticked)) : count.dataset.none;
    submit.disabled = ticked === 0;
    if (all) {
      all.checked = ticked > 0 && ticked === shown.length;
      all.indeterminate = ticked > 0 && ticked < shown.length;
    }
  }

  function showField() {
    form.querySelectorAll("[data-for]").forEach((label) => {
      const active = label.dataset.for === action.value;
      label.hidden = !active;
      label.querySelectorAll("input, select").forEach((field) => { field.disabled = !active; });
    });
  }

  // A click on a checkbox must not open the ticket (desk.js opens the row's ticket on a click in the row).
  table.addEventListener("click", (event) => {
    if (event.target.closest("td.pick, th.pick")) event.stopPropagation();
  }, true);

  body.addEventListener("change", (event) => {
    const box = event.target;
    if (box.name !== "ids") return;
    if (box.checked) selected.add(box.value); else selected.delete(box.value);
    update();
  });

  all?.addEventListener("change", () => {
    boxes().forEach((box) => {
      box.checked = all.checked;
      if (all.checked) selected.add(box.value); else selected.delete(box.value);
    });
    update();
  });

  // The rows were replaced: tick again what was ticked.
  new MutationObserver(() => {
    boxes().forEach((box) => { box.checked = selected.has(box.value); });
    update();
  }).observe(body, { childList: true });

  action.addEventListener("change", showField);
  showField();
  update();
})();
