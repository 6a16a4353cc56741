/**
 * Zoom and pan of an SVG map through its viewBox: buttons, wheel, drag and two-finger pinch.
 * Changes are written once per animation frame; the map's elements are never touched.
 */

const DRAG_THRESHOLD = 5; // pixels before a press becomes a drag instead of a click

export class Viewport extends EventTarget {
  constructor(svg, { maxZoom = 25 } = {}) {
    super();
    this.svg = svg;
    const box = svg.viewBox.baseVal;
    this.full =
      box && box.width > 0
        ? { x: box.x, y: box.y, w: box.width, h: box.height }
        : (() => {
            const b = svg.getBBox();
            return { x: b.x, y: b.y, w: b.width || 1, h: b.height || 1 };
          })();
    this.view = { ...this.full };
    this.minWidth = this.full.w / maxZoom;
    this.frame = 0;
    this.pointers = new Map();
    this.dragged = false;
    this.pinch = null;
    this.wire();
  }

  get zoom() {
    return this.full.w / this.view.w;
  }

  viewBoxText() {
    const { x, y, w, h } = this.view;
    return `${x.toFixed(2)} ${y.toFixed(2)} ${w.toFixed(2)} ${h.toFixed(2)}`;
  }

  wire() {
    const svg = this.svg;
    svg.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
        this.zoomAt(Math.exp(-delta * 0.0015), this.toUser(event.clientX, event.clientY));
      },
      { passive: false },
    );
    svg.addEventListener("pointerdown", (event) => {
      if (event.pointerType === "mouse" && event.button !== 0) return;
      this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY, startX: event.clientX, startY: event.clientY });
      this.dragged = false;
      if (this.pointers.size === 2) this.pinch = this.pinchState();
    });
    svg.addEventListener("pointermove", (event) => {
      const pointer = this.pointers.get(event.pointerId);
      if (!pointer) return;
      const dx = event.clientX - pointer.x;
      const dy = event.clientY - pointer.y;
      pointer.x = event.clientX;
      pointer.y = event.clientY;
      if (this.pointers.size === 2 && this.pinch) {
        const now = this.pinchState();
        if (now.distance > 0 && this.pinch.distance > 0) {
          this.zoomAt(now.distance / this.pinch.distance, this.toUser(now.x, now.y));
        }
        this.pinch = now;
        this.dragged = true;
        return;
      }
      if (!this.dragged) {
        const moved = Math.hypot(event.clientX - pointer.startX, event.clientY - pointer.startY);
        if (moved < DRAG_THRESHOLD) return;
        this.dragged = true;
        svg.setPointerCapture(event.pointerId);
        svg.classList.add("is-panning");
      }
      this.panBy(dx, dy);
    });
    const end = (event) => {
      this.pointers.delete(event.pointerId);
      if (this.pointers.size < 2) this.pinch = null;
      svg.classList.remove("is-panning");
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
  }

  pinchState() {
    const [a, b] = [...this.pointers.values()];
    return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, distance: Math.hypot(a.x - b.x, a.y - b.y) };
  }

  /** True once after a drag, so the click that ends a drag does not select a seat. */
  consumeDrag() {
    const dragged = this.dragged;
    this.dragged = false;
    return dragged;
  }

  scale() {
    const rect = this.svg.getBoundingClientRect();
    return {
      rect,
      s: Math.max(this.view.w / (rect.width || 1), this.view.h / (rect.height || 1)),
    };
  }

  /** Screen point to map units (the SVG scales uniformly and centres: xMidYMid meet). */
  toUser(clientX, clientY) {
    const { rect, s } = this.scale();
    const ox = (rect.width - this.view.w / s) / 2;
    const oy = (rect.height - this.view.h / s) / 2;
    return {
      x: this.view.x + (clientX - rect.left - ox) * s,
      y: this.view.y + (clientY - rect.top - oy) * s,
    };
  }

  centre() {
    return { x: this.view.x + this.view.w / 2, y: this.view.y + this.view.h / 2 };
  }

  zoomAt(factor, point) {
    const w = Math.min(this.full.w, Math.max(this.minWidth, this.view.w / factor));
    const k = w / this.view.w;
    if (k === 1) return;
    this.view = {
      x: point.x - (point.x - this.view.x) * k,
      y: point.y - (point.y - this.view.y) * k,
      w,
      h: this.view.h * k,
    };
    this.update();
  }

  zoomIn() {
    this.zoomAt(1.6, this.centre());
  }

  zoomOut() {
    this.zoomAt(1 / 1.6, this.centre());
  }

  reset() {
    this.view = { ...this.full };
    this.update();
  }

  panBy(dxPixels, dyPixels) {
    const { s } = this.scale();
    this.view.x -= dxPixels * s;
    this.view.y -= dyPixels * s;
    this.update();
  }

  /** Bring a map point into view (centred) if it is outside the visible part. */
  reveal(x, y) {
    const { x: vx, y: vy, w, h } = this.view;
    const margin = Math.min(w, h) * 0.08;
    if (x >= vx + margin && x <= vx + w - margin && y >= vy + margin && y <= vy + h - margin) {
      return;
    }
    this.view.x = x - w / 2;
    this.view.y = y - h / 2;
    this.update();
  }

  clamp() {
    const { full, view } = this;
    const cx = Math.min(full.x + full.w, Math.max(full.x, view.x + view.w / 2));
    const cy = Math.min(full.y + full.h, Math.max(full.y, view.y + view.h / 2));
    view.x = cx - view.w / 2;
    view.y = cy - view.h / 2;
  }

  update() {
    this.clamp();
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.svg.setAttribute("viewBox", this.viewBoxText());
      this.dispatchEvent(new CustomEvent("change", { detail: { zoom: this.zoom } }));
    });
  }
}
