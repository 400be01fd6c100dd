// Presence on the desk's ticket page: who else has the ticket open, and who is typing a reply.
// The page beats every few seconds (and at once when the agent starts or stops typing); the answer lists the
// others, rendered as text only. A hidden tab does not beat: it is not "viewing".
(function () {
  "use strict";
  const box = document.getElementById("presence");
  if (!box) return;
  const BEAT_MS = 5000;
  // Typing stops counting this long after the last keystroke (a pause to think is still typing).
  const IDLE_MS = 4000;
  const list = box.querySelector(".presence-list");
  const reply = document.getElementById("comment-body");
  let typing = false;
  let idle = null;
  let busy = false;
  let again = false;

  function line(other) {
    const item = document.createElement("li");
    const template = other.typing ? box.dataset.typing : box.dataset.viewing;
    item.textContent = template.replace("%(name)s", other.name);  // text only: names come from users
    item.className = other.typing ? "presence-typing" : "presence-viewing";
    return item;
  }

  function render(others) {
    if (!Array.isArray(others)) return;
    list.replaceChildren(...others.map(line));
    box.hidden = others.length === 0;
  }

  async function beat() {
    if (document.hidden) return;
    if (busy) { again = true; return; }  // one request at a time; the latest state goes next
    busy = true;
    try {
      const response = await fetch(box.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": box.dataset.csrf },
        body: JSON.stringify({ typing }),
      });
      if (response.ok) render(await response.json());
    } catch (error) {
      /* offline for a moment: the next beat tries again */
    } finally {
      busy = false;
      if (again) { again = false; beat(); }
    }
  }

  function setTyping(now) {
    if (now === typing) return;
    typing = now;
    beat();
  }

  if (reply) {
    reply.addEventListener("input", () => {
      clearTimeout(idle);
      const writing = reply.value.trim() !== "";
      setTyping(writing);
      if (writing) idle = setTimeout(() => setTyping(false), IDLE_MS);
    });
    reply.addEventListener("blur", () => { clearTimeout(idle); setTyping(false); });
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { clearTimeout(idle); typing = false; } else { beat(); }
  });
  setInterval(beat, BEAT_MS);
  beat();
})();
