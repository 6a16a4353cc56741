/**
 * The buyer page: the seat map, the selection summary, holds with a countdown, booking in the
 * event's flow (simple: the booking at once; queued: "in the queue", then the result over
 * /ws/me/, with REST polling as a fallback), best available, and general admission.
 *
 * The page's data comes from two JSON blocks the server renders in <head>: #event-config and
 * #seat-geometry. They are looked up in <head> only, as JSON script elements: the body inlines
 * the organizer's SVG, which must never be able to stand in for them. Tests and the benchmark use window.seatMap, window.seatMapLive and
 * window.seatMapReady (milliseconds since navigation start when the map became interactive).
 */

import { api, errorMessage, uuid } from "./api.js";
import { EventFeed, MyFeed } from "./live.js";
import { SeatMap } from "./seatmap.js";
import { Viewport } from "./viewport.js";

const timings = { scriptStart: performance.now() };
window.seatMapTimings = timings;
const pageData = (id) =>
  JSON.parse(document.head.querySelector(`script[type="application/json"]#${id}`).textContent);
const config = pageData("event-config");
const $ = (id) => document.getElementById(id);
const categories = new Map(config.categories.map((c) => [c.id, c]));
const clockOffset = config.serverTime - Date.now();
const POLL_MS = 3000;

let map = null;
let hold = null; // {id, seats, quantity, expiresAt, key}
let countdown = 0;
let tracking = null; // {id, statusUrl, timer}

// --- messages ------------------------------------------------------------------------------

function notice(text) {
  $("notice").textContent = text;
}

function conflict(text) {
  const box = $("conflict");
  box.textContent = text;
  box.hidden = !text;
}

function show(id, visible) {
  const el = $(id);
  if (el) el.hidden = !visible;
}

// --- money and labels -----------------------------------------------------------------------

function cents(price) {
  return Math.round(Number.parseFloat(price) * 100);
}

function formatTotal(lines) {
  const totals = new Map();
  for (const line of lines) {
    totals.set(line.currency, (totals.get(line.currency) || 0) + cents(line.price));
  }
  if (!totals.size) return "0.00";
  return [...totals].map(([currency, sum]) => `${(sum / 100).toFixed(2)} ${currency}`).join(" + ");
}

function seatLine(id) {
  const category = categories.get(map.category.get(id));
  const label = map.label(id);
  const suffix = category ? `, ${category.name}, ${category.price} ${category.currency}` : "";
  const place = suffix && label.endsWith(suffix) ? label.slice(0, -suffix.length) : label;
  return {
    id,
    place,
    category: category ? category.name : "",
    price: category ? category.price : "0",
    currency: category ? category.currency : "",
  };
}

function renderLines(listId, lines) {
  const list = $(listId);
  list.replaceChildren(
    ...lines.map((line) => {
      const item = document.createElement("li");
      item.dataset.seatId = line.id;
      const place = document.createElement("span");
      place.className = "line-place";
      place.textContent = line.category ? `${line.place} · ${line.category}` : line.place;
      const price = document.createElement("span");
      price.className = "line-price";
      price.textContent = `${line.price} ${line.currency}`;
      item.append(place, price);
      if (line.taken) {
        item.classList.add("is-taken");
        place.textContent += " (just taken)";
      }
      return item;
    }),
  );
}

// --- selection summary ---------------------------------------------------------------------

function renderSelection() {
  if (!map) return;
  const ids = [...map.selected];
  const lines = ids.map((id) => ({ ...seatLine(id), taken: map.displayOf(id) !== "available" }));
  renderLines("selection-list", lines);
  $("selection-count").textContent = String(ids.length);
  $("selection-total").textContent = formatTotal(lines);
  $("selection-empty").hidden = ids.length > 0;
  const holdButton = $("hold-button");
  if (holdButton) holdButton.disabled = ids.length === 0 || !config.event.salesOpen;
  const clear = $("clear-button");
  if (clear) clear.disabled = ids.length === 0;
}

const REFUSALS = {
  held: "This seat is held by another buyer.",
  sold: "This seat is sold.",
  mine: "This seat is already in your hold.",
  booked: "You booked this seat.",
  not_on_sale: "This seat is not on sale.",
  limit: `You can choose at most ${config.event.maxSeats} seats.`,
  locked: "Release your hold to choose other seats.",
};

// --- holds ---------------------------------------------------------------------------------

function startHold(created) {
  hold = {
    id: created.id,
    seats: created.seats,
    quantity: created.quantity,
    // The server's clock decides; the countdown never shows more than the event's hold time.
    expiresAt:
      Date.now() +
      Math.min(
        Date.parse(created.expires_at) - (Date.now() + clockOffset),
        config.event.holdTtl * 1000,
      ),
    key: uuid(),
  };
  conflict("");
  notice(
    created.seats.length
      ? `${created.seats.length} seat${created.seats.length > 1 ? "s" : ""} held for you.`
      : `${created.quantity} ticket${created.quantity > 1 ? "s" : ""} held for you.`,
  );
  if (map) {
    map.clearSelection();
    map.setStatuses(created.seats, "held");
    map.setMine(created.seats);
    map.locked = true;
    const lines = created.seats.map(seatLine);
    renderLines("hold-list", lines);
    $("hold-total").textContent = formatTotal(lines);
    const first = created.seats.length && map.position(created.seats[0]);
    if (first && map.viewport) map.viewport.reveal(first.x, first.y);
  } else {
    const category = config.categories[0];
    const line = {
      id: 0,
      place: `${created.quantity} × ${category ? category.name : "ticket"}`,
      price: category ? ((cents(category.price) * created.quantity) / 100).toFixed(2) : "0",
      currency: category ? category.currency : "",
    };
    renderLines("hold-list", [line]);
    $("hold-total").textContent = `${line.price} ${line.currency}`;
  }
  show("buy-panel", false);
  show("hold-panel", true);
  $("book-button").disabled = false;
  $("release-button").disabled = false;
  tick();
  clearInterval(countdown);
  countdown = setInterval(tick, 1000);
  $("book-button").focus();
}

function tick() {
  if (!hold) return;
  const left = Math.max(0, hold.expiresAt - Date.now());
  const seconds = Math.ceil(left / 1000);
  $("hold-countdown").textContent =
    `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
  if (left <= 0 && !tracking) endHold("Your hold expired; the seats are free again.", true);
}

function endHold(message, released) {
  clearInterval(countdown);
  if (map && hold) {
    if (released) map.setStatuses(hold.seats, "available");
    map.setMine([]);
    map.locked = false;
  }
  hold = null;
  show("hold-panel", false);
  show("buy-panel", true);
  if (message) notice(message);
  renderSelection();
}

async function holdSeats(body) {
  conflict("");
  notice("Holding…");
  const result = await api("POST", config.api.holds, body);
  if (result.status === 201) {
    startHold(result.data);
    return;
  }
  notice("");
  const error = (result.data && result.data.error) || {};
  if (result.status === 409 && error.code === "seats_unavailable" && map) {
    const taken = (error.details && error.details.seats) || [];
    const names = taken.map((id) => seatLine(id).place);
    for (const id of taken) if (map.displayOf(id) === "available") map.setStatuses([id], "held");
    map.deselect(taken);
    conflict(
      names.length
        ? `Sorry, someone else got there first: ${names.join("; ")}. Please choose other seats.`
        : errorMessage(result),
    );
  } else if (result.status === 409) {
    conflict(errorMessage(result));
  } else if (result.status === 401 || result.status === 403) {
    conflict("Please log in to buy tickets.");
  } else {
    conflict(errorMessage(result));
  }
}

async function releaseHold() {
  if (!hold) return;
  $("release-button").disabled = true;
  const result = await api("DELETE", config.api.hold.replace("HOLD", encodeURIComponent(hold.id)));
  if (result.status === 204 || result.status === 404) endHold("Your hold was released.", true);
  else {
    $("release-button").disabled = false;
    conflict(errorMessage(result));
  }
}

// --- booking -------------------------------------------------------------------------------

// Every booking state shown, and what told us ("response", "ws" or "poll"), for tests.
window.seatMapBookingStates = [];

function bookingStatus(text, state, via = "response") {
  window.seatMapBookingStates.push({ state, via });
  const box = $("booking-status");
  box.hidden = false;
  box.dataset.state = state;
  $("booking-text").textContent = text;
}

function ticketsUrl(bookingId) {
  return config.api.ticketsPdf.replace("00000000-0000-0000-0000-000000000000", bookingId);
}

function confirmed(booking, via) {
  stopTracking();
  const seats = hold ? hold.seats : [];
  clearInterval(countdown);
  if (map) {
    map.markBooked(seats);
    map.locked = false;
  }
  hold = null;
  show("hold-panel", false);
  show("buy-panel", true);
  renderSelection();
  bookingStatus(`Booked! Your reference is ${booking.reference}.`, "confirmed", via);
  const link = $("ticket-link");
  link.href = ticketsUrl(booking.id || booking.booking_id);
  link.hidden = false;
  notice("Your tickets are on their way by email too.");
}

function failed(reason, message, via) {
  stopTracking();
  const text = message || `The booking failed${reason ? ` (${reason.replaceAll("_", " ")})` : ""}.`;
  bookingStatus(text, "failed", via);
  endHold("", true);
  conflict(text);
}

async function book() {
  if (!hold) return;
  $("book-button").disabled = true;
  $("release-button").disabled = true;
  bookingStatus("Booking…", "pending");
  const result = await api(
    "POST",
    config.api.registrations,
    { hold: hold.id },
    { "Idempotency-Key": hold.key },
  );
  if (result.status === 201) {
    settle(result.data.status, result.data, "", "response");
  } else if (result.status === 202) {
    bookingStatus(
      "You are in the queue. Keep this page open: we book your seats now.",
      "queued",
      "response",
    );
    clearInterval(countdown);
    $("hold-countdown").textContent = "in the queue";
    tracking = { id: result.data.tracking_id, statusUrl: result.data.status_url, timer: 0 };
    tracking.timer = setTimeout(poll, POLL_MS);
    const early = recentPushes.get(String(tracking.id));
    if (early) settle(early.status, early, early.reason, "ws");
  } else {
    const error = (result.data && result.data.error) || {};
    failed(error.code, errorMessage(result), "response");
  }
}

/** A booking's state, from the 201 ("response"), /ws/me/ ("ws") or the status URL ("poll"). */
function settle(status, booking, reason, via) {
  if (status === "confirmed") confirmed(booking, via);
  else if (status === "failed" || status === "cancelled" || status === "expired") {
    failed(reason || (booking && booking.failure_reason), "", via);
  } else if (status === "pending_payment") {
    bookingStatus("Your seats are reserved; the booking waits for your payment.", "payment", via);
  } else if (status === "processing") {
    bookingStatus("Your booking is being processed…", "processing", via);
  }
}

// The worker can finish (and push over /ws/me/) before the browser has read the 202 that
// names the tracking id, so pushes are kept for a while and replayed when the 202 arrives.
const recentPushes = new Map();

function onBookingPush(update) {
  const id = String(update.tracking_id);
  recentPushes.set(id, update);
  if (recentPushes.size > 20) recentPushes.delete(recentPushes.keys().next().value);
  if (!tracking || id !== String(tracking.id)) return;
  settle(update.status, update, update.reason, "ws");
}

async function poll() {
  if (!tracking) return;
  const result = await api("GET", tracking.statusUrl);
  if (!tracking) return;
  if (result.ok && result.data) {
    const { status, booking, reason } = result.data;
    if (status !== "queued") settle(status, booking || {}, reason, "poll");
  }
  if (tracking) tracking.timer = setTimeout(poll, POLL_MS);
}

function stopTracking() {
  if (tracking) clearTimeout(tracking.timer);
  tracking = null;
}

// --- wiring --------------------------------------------------------------------------------

function wireMap() {
  const root = $("seatmap");
  const svg = root.querySelector("svg");
  const geometry = pageData("seat-geometry");
  timings.geometryParsed = performance.now();
  const viewport = new Viewport(svg);
  map = new SeatMap(svg, geometry, { maxSelection: config.event.maxSeats, viewport });
  timings.mapBuilt = performance.now();
  map.replaceStatuses(config.initial.held, config.initial.sold);
  timings.statusesApplied = performance.now();

  $("zoom-in").addEventListener("click", () => viewport.zoomIn());
  $("zoom-out").addEventListener("click", () => viewport.zoomOut());
  $("zoom-reset").addEventListener("click", () => viewport.reset());
  viewport.addEventListener("change", (event) => {
    $("zoom-level").textContent = `${Math.round(event.detail.zoom * 100)}%`;
    root.dataset.zoom = event.detail.zoom.toFixed(2);
  });
  svg.addEventListener("keydown", (event) => {
    if (event.key === "+" || event.key === "=") viewport.zoomIn();
    else if (event.key === "-") viewport.zoomOut();
  });

  map.addEventListener("selectionchange", renderSelection);
  map.addEventListener("refused", (event) => notice(REFUSALS[event.detail.reason] || ""));
  map.addEventListener("taken", (event) => {
    const names = event.detail.seats.map((id) => seatLine(id).place);
    conflict(`Just taken by someone else: ${names.join("; ")}.`);
    renderSelection();
  });

  const live = $("live-status");
  const feed = new EventFeed(
    config.ws.event,
    {
      onSnapshot: (held, sold) => map.replaceStatuses(held, sold),
      onChanges: (changes) => map.queueChanges(changes),
      onState: (state) => {
        root.dataset.live = state;
        live.dataset.state = state;
        live.textContent = { live: "Live", syncing: "Syncing…", offline: "Reconnecting…" }[state] || state;
      },
    },
    config.initial.seq,
  );
  feed.connect();
  window.seatMap = map;
  window.seatMapLive = feed;
  window.seatMapViewport = viewport;

  const best = $("best-form");
  if (best) {
    best.addEventListener("submit", (event) => {
      event.preventDefault();
      const quantity = Number($("best-quantity").value);
      const category = $("best-category").value;
      holdSeats({
        best_available: category ? { quantity, category: Number(category) } : { quantity },
      });
    });
  }
  const holdButton = $("hold-button");
  if (holdButton) holdButton.addEventListener("click", () => holdSeats({ seats: [...map.selected] }));
  const clear = $("clear-button");
  if (clear) clear.addEventListener("click", () => map.clearSelection());
  renderSelection();
}

function wireGeneralAdmission() {
  const form = $("ga-form");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    holdSeats({ quantity: Number($("ga-quantity").value) });
  });
}

function wireBooking() {
  const bookButton = $("book-button");
  if (bookButton) bookButton.addEventListener("click", book);
  const release = $("release-button");
  if (release) release.addEventListener("click", releaseHold);
  if (config.user.authenticated) {
    const me = new MyFeed(config.ws.me, onBookingPush);
    me.connect();
    window.seatMapMe = me;
  }
}

if (config.event.generalAdmission) wireGeneralAdmission();
else wireMap();
wireBooking();
// Show the map (hidden while the HTML was parsed) and call it ready once the first frame
// with it has been painted: seatMapReady is "rendered and interactive", in ms since navigation.
timings.wired = performance.now();
const mapRoot = $("seatmap");
if (mapRoot) mapRoot.classList.add("is-ready");
requestAnimationFrame(() =>
  setTimeout(() => {
    document.documentElement.dataset.ready = "true";
    window.seatMapReady = performance.now();
    window.dispatchEvent(new CustomEvent("seatmap:ready"));
  }, 0),
);
