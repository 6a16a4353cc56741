/* The admin's live preview of a procedural layout: whenever a layout field changes, the form is
   posted to the preview view (debounced) and the SVG it answers replaces the preview. */
(function () {
  "use strict";
  const preview = document.getElementById("seatmap-live-preview");
  if (!preview) return;
  const form = preview.closest("form");
  const error = document.getElementById("seatmap-live-error");
  const summary = document.getElementById("seatmap-live-summary");
  const layoutFields = ["sections", "row_labels", "skip_letters", "numbering", "seat_spacing",
    "row_spacing", "aisle_width", "section_gap", "curve_radius"];
  let timer = 0;
  let latest = 0;

  async function refresh() {
    const request = ++latest;
    const data = new FormData();
    data.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
    for (const name of layoutFields) {
      const field = form.elements[name];
      if (field) data.append(name, field.value);
    }
    preview.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(preview.dataset.url, {
        method: "POST", body: data, credentials: "same-origin",
      });
      const text = await response.text();
      if (request !== latest) return; // a newer request is on its way
      if (response.ok) {
        preview.innerHTML = text;
        const seats = preview.querySelectorAll("circle.seat").length;
        summary.textContent = `${seats} seats`;
        error.hidden = true;
      } else {
        error.textContent = text || `Preview failed (HTTP ${response.status}).`;
        error.hidden = false;
      }
    } finally {
      if (request === latest) preview.removeAttribute("aria-busy");
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  for (const name of layoutFields) {
    const field = form.elements[name];
    if (field) {
      field.addEventListener("input", schedule);
      field.addEventListener("change", schedule);
    }
  }
  refresh();
})();
