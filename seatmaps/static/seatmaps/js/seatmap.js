/**
 * The interactive seat map: seat status colours, selection, keyboard navigation.
 *
 * Seats are the SVG elements carrying data-seat-id (rendered by the server with a category
 * class, role="button", aria-pressed and an accessible name). One Map from seat id to element is
 * built once; live changes are queued and applied in one animation frame, touching only the
 * seats that changed, with a class per status (colours live in seatmap.css). Nothing here
 * queries the DOM per seat on the hot path.
 */

const STATUS_CLASS = { held: "s-held", sold: "s-sold", mine: "s-mine", booked: "s-booked" };
const STATUS_TEXT = {
  available: "available",
  held: "held",
  sold: "sold",
  mine: "held for you",
  booked: "booked by you",
};
const ARROWS = {
  ArrowRight: [1, 0],
  ArrowLeft: [-1, 0],
  ArrowUp: [0, -1],
  ArrowDown: [0, 1],
};

export class SeatMap extends EventTarget {
  /**
   * @param {SVGSVGElement} svg the map
   * @param {{ids: number[], x: number[], y: number[], cat: number[]}} geometry seat centres
   *   and price category ids (0: not on sale), in the same order
   * @param {{maxSelection?: number, viewport?: object}} options
   */
  constructor(svg, geometry, { maxSelection = 10, viewport = null } = {}) {
    super();
    this.svg = svg;
    this.viewport = viewport;
    this.maxSelection = maxSelection;
    this.elements = new Map();
    for (const el of svg.querySelectorAll("[data-seat-id]")) {
      this.elements.set(Number(el.getAttribute("data-seat-id")), el);
    }
    this.ids = Float64Array.from(geometry.ids);
    this.xs = Float64Array.from(geometry.x);
    this.ys = Float64Array.from(geometry.y);
    this.cats = Float64Array.from(geometry.cat);
    this.index = new Map();
    this.category = new Map();
    for (let i = 0; i < this.ids.length; i++) {
      this.index.set(this.ids[i], i);
      if (this.cats[i]) this.category.set(this.ids[i], this.cats[i]);
    }
    this.status = new Map(); // id -> "held" | "sold"; every other seat is available
    this.shown = new Map(); // id -> the status class currently on the element
    this.labels = new Map(); // id -> accessible name without its status (filled lazily)
    this.mine = new Set(); // seats of this buyer's current hold
    this.booked = new Set(); // seats this buyer booked on this page
    this.selected = new Set();
    this.locked = false; // a hold is running: the selection cannot change
    this.pending = [];
    this.frame = 0;
    this.focusedId = null;
    this.lastApply = { seats: 0, ms: 0 };
    this.wire();
  }

  wire() {
    this.svg.addEventListener("click", (event) => {
      if (this.viewport && this.viewport.consumeDrag()) return;
      const el = event.target.closest("[data-seat-id]");
      if (!el) return;
      const id = Number(el.getAttribute("data-seat-id"));
      this.focusSeat(id, { reveal: false, visible: false });
      this.toggle(id);
    });
    this.svg.addEventListener("keydown", (event) => {
      const el = event.target.closest && event.target.closest("[data-seat-id]");
      if (!el) return;
      const id = Number(el.getAttribute("data-seat-id"));
      const direction = ARROWS[event.key];
      if (direction) {
        event.preventDefault();
        const next = this.neighbour(id, direction);
        if (next !== null) this.focusSeat(next);
      } else if (event.key === "Enter" || event.key === " " || event.key === "Spacebar") {
        event.preventDefault();
        this.toggle(id);
      } else if (event.key === "Home" || event.key === "End") {
        // To the first or last seat of the row: keep stepping left or right.
        event.preventDefault();
        const direction = event.key === "Home" ? [-1, 0] : [1, 0];
        let current = id;
        let next = this.neighbour(current, direction);
        while (next !== null) {
          current = next;
          next = this.neighbour(current, direction);
        }
        this.focusSeat(current);
      }
    });
    // The first seat on sale is where Tab enters the map (roving tabindex: one stop only).
    const first = this.ids.find((id) => this.category.has(id));
    if (first !== undefined) this.setEntry(first);
  }

  // --- status -----------------------------------------------------------------------------

  displayOf(id) {
    if (this.booked.has(id)) return "booked";
    const status = this.status.get(id);
    if (this.mine.has(id) && status !== "sold") return "mine";
    return status || "available";
  }

  statusOf(id) {
    if (!this.category.has(id)) return "unavailable";
    return this.displayOf(id);
  }

  label(id) {
    let label = this.labels.get(id);
    if (label === undefined) {
      const full = this.elements.get(id).getAttribute("aria-label") || "";
      label = full.slice(0, full.lastIndexOf(", "));
      this.labels.set(id, label);
    }
    return label;
  }

  render(id) {
    const el = this.elements.get(id);
    if (!el || !this.category.has(id)) return;
    const next = this.displayOf(id);
    const previous = this.shown.get(id) || "available";
    if (next === previous) return;
    const base = this.label(id);
    if (previous !== "available") el.classList.remove(STATUS_CLASS[previous]);
    if (next === "available") this.shown.delete(id);
    else {
      el.classList.add(STATUS_CLASS[next]);
      this.shown.set(id, next);
    }
    el.setAttribute("aria-label", `${base}, ${STATUS_TEXT[next]}`);
  }

  /** Replace every seat's status (a snapshot): only seats whose status differs are touched. */
  replaceStatuses(held, sold) {
    this.pending = [];
    const next = new Map();
    for (const id of held) next.set(id, "held");
    for (const id of sold) next.set(id, "sold");
    const changed = [];
    for (const id of this.status.keys()) if (!next.has(id)) changed.push(id);
    for (const [id, status] of next) if (this.status.get(id) !== status) changed.push(id);
    this.status = next;
    for (const id of changed) this.render(id);
    this.afterChange(changed);
  }

  /** Queue changes ({seats, status}) for the next animation frame; bursts coalesce. */
  queueChanges(changes) {
    for (const change of changes) this.pending.push(change);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    const batch = this.pending;
    this.pending = [];
    const started = performance.now();
    const touched = [];
    for (const change of batch) {
      for (const id of change.seats) {
        if (change.status === "available") this.status.delete(id);
        else this.status.set(id, change.status);
        touched.push(id);
      }
    }
    for (const id of touched) this.render(id);
    this.lastApply = { seats: touched.length, ms: performance.now() - started };
    this.afterChange(touched);
  }

  /** Set statuses now (this buyer's own hold, a 409's answer), without waiting for a frame. */
  setStatuses(ids, status) {
    for (const id of ids) {
      if (status === "available") this.status.delete(id);
      else this.status.set(id, status);
      this.render(id);
    }
    this.afterChange(ids);
  }

  afterChange(ids) {
    for (const id of ids) {
      if (this.selected.has(id) && this.displayOf(id) === "available") {
        this.elements.get(id).classList.remove("is-taken"); // released again
      }
    }
    const taken = ids.filter((id) => this.selected.has(id) && this.displayOf(id) !== "available");
    if (taken.length) {
      for (const id of taken) this.elements.get(id).classList.add("is-taken");
      this.dispatchEvent(new CustomEvent("taken", { detail: { seats: taken } }));
    }
    this.dispatchEvent(new CustomEvent("statuschange", { detail: { count: ids.length } }));
  }

  setMine(ids) {
    const previous = [...this.mine];
    this.mine = new Set(ids);
    for (const id of previous) this.render(id);
    for (const id of ids) this.render(id);
  }

  markBooked(ids) {
    for (const id of ids) {
      this.booked.add(id);
      this.status.set(id, "sold");
    }
    this.setMine([]);
    for (const id of ids) this.render(id);
  }

  // --- selection --------------------------------------------------------------------------

  toggle(id) {
    const el = this.elements.get(id);
    if (!el) return;
    if (!this.category.has(id)) return this.refuse(id, "not_on_sale");
    if (this.locked) return this.refuse(id, "locked");
    if (this.selected.has(id)) {
      this.deselect([id]);
      return;
    }
    const status = this.displayOf(id);
    if (status !== "available") return this.refuse(id, status);
    if (this.selected.size >= this.maxSelection) return this.refuse(id, "limit");
    this.selected.add(id);
    el.classList.add("is-selected");
    el.setAttribute("aria-pressed", "true");
    this.dispatchEvent(new CustomEvent("selectionchange"));
  }

  deselect(ids) {
    for (const id of ids) {
      if (!this.selected.delete(id)) continue;
      const el = this.elements.get(id);
      el.classList.remove("is-selected", "is-taken");
      el.setAttribute("aria-pressed", "false");
    }
    this.dispatchEvent(new CustomEvent("selectionchange"));
  }

  clearSelection() {
    this.deselect([...this.selected]);
  }

  refuse(id, reason) {
    this.dispatchEvent(new CustomEvent("refused", { detail: { id, reason } }));
  }

  // --- keyboard ---------------------------------------------------------------------------

  setEntry(id) {
    if (this.focusedId !== null && this.focusedId !== id) {
      const previous = this.elements.get(this.focusedId);
      if (previous) previous.removeAttribute("tabindex");
    }
    const el = this.elements.get(id);
    if (!el) return null;
    el.setAttribute("tabindex", "0");
    this.focusedId = id;
    return el;
  }

  focusSeat(id, { reveal = true, visible = true } = {}) {
    const el = this.setEntry(id);
    if (!el) return;
    if (reveal && this.viewport) {
      const i = this.index.get(id);
      if (i !== undefined) this.viewport.reveal(this.xs[i], this.ys[i]);
    }
    // A click focuses the seat too (arrow keys go on from there) without the keyboard ring.
    el.focus({ preventScroll: true, focusVisible: visible });
  }

  /** The nearest seat on sale in a direction, within a 50-degree cone either side; or null. */
  neighbour(id, [dx, dy]) {
    const i = this.index.get(id);
    if (i === undefined) return null;
    const x0 = this.xs[i];
    const y0 = this.ys[i];
    let best = -1;
    let bestScore = Infinity;
    for (let j = 0; j < this.ids.length; j++) {
      if (j === i || !this.cats[j]) continue;
      const vx = this.xs[j] - x0;
      const vy = this.ys[j] - y0;
      const along = vx * dx + vy * dy;
      if (along <= 0.01) continue;
      const across = Math.abs(vx * dy - vy * dx);
      if (across > along * 1.2) continue;
      const score = along + 2.5 * across;
      if (score < bestScore) {
        bestScore = score;
        best = j;
      }
    }
    return best < 0 ? null : this.ids[best];
  }

  position(id) {
    const i = this.index.get(id);
    return i === undefined ? null : { x: this.xs[i], y: this.ys[i] };
  }
}
