// The sales dashboard refreshes its figures while it is open: every few seconds it fetches the
// server-drawn fragment (numbers, SVG charts) and swaps it in. A failed fetch keeps the last
// figures and tries again at the next tick.
(function () {
  "use strict";
  const box = document.getElementById("sales-dashboard");
  if (!box) return;
  const url = box.dataset.url;
  const seconds = Math.max(parseInt(box.dataset.seconds, 10) || 3, 1);
  let busy = false;
  async function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.ok) {
        const html = await response.text();
        const parsed = new DOMParser().parseFromString(html, "text/html");
        box.replaceChildren(...parsed.body.childNodes);
        box.dataset.refreshed = String(Date.now());
      }
    } catch (error) {
      // offline for a moment: keep the last figures
    } finally {
      busy = false;
    }
  }
  setInterval(refresh, seconds * 1000);
})();
