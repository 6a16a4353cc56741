/**
 * The buyer page: the seat map, the selection summary, holds with a countdown, booking in the
 * event's flow (simple: the booking at once; queued: "in the queue", then the result over
 * /ws/me/, with REST polling as a fallback), best available, and general admission.
 * Paid events add the payment step: the bank's hosted card form in a frame hands the page a
 * token (postMessage from the bank's origin only), which goes with the registration; the
 * payment's outcome arrives like a queued booking's. A hold can be extended once, and the
 * buyer's live holds come back after a reload (config.myHolds).
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
let paying = false; // a card token was sent with the registration
const WARN_SECONDS = 60;
const REASONS = {
  payment_declined: "Your card was declined by the bank; nothing was charged. The seats were released.",
  payment_timeout: "The payment did not go through in time; the seats were released.",
  hold_expired: "Your hold expired before the booking was made; the seats were released.",
  seat_taken: "A seat was sold to someone else in the meantime.",
  event_cancelled: "The event was cancelled.",
};

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

/** Milliseconds since the epoch on this browser's clock when a hold (API shape) ends. */
function localExpiry(created) {
  // The server's clock decides; the countdown never shows more than the hold time allows.
  const most = config.event.holdTtl * 1000 * (created.extended ? 2 : 1);
  return Date.now() + Math.min(Date.parse(created.expires_at) - (Date.now() + clockOffset), most);
}

function startHold(created, resumed = false) {
  hold = {
    id: created.id,
    seats: created.seats,
    quantity: created.quantity,
    expiresAt: localExpiry(created),
    warned: false,
    key: uuid(),
  };
  conflict("");
  const what = created.seats.length
    ? `${created.seats.length} seat${created.seats.length > 1 ? "s" : ""}`
    : `${created.quantity} ticket${created.quantity > 1 ? "s" : ""}`;
  notice(
    resumed
      ? `You still hold ${what}: continue or release them.`
      : `${what[0].toUpperCase()}${what.slice(1)} held for you.`,
  );
  show("extend-button", !created.extended);
  show("hold-warning", false);
  resetPayment();
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
  else if (seconds <= WARN_SECONDS && !hold.warned && !tracking) {
    // Announced once (role=alert), with the way to get more time when there still is one.
    hold.warned = true;
    $("hold-warning").textContent = $("extend-button").hidden
      ? "Less than a minute left on your hold."
      : "Less than a minute left on your hold. Choose “More time” to keep your seats longer.";
    show("hold-warning", true);
  }
}

async function extendHold() {
  if (!hold) return;
  const button = $("extend-button");
  button.disabled = true;
  const url = config.api.extend.replace("HOLD", encodeURIComponent(hold.id));
  const result = await api("POST", url);
  button.disabled = false;
  if (result.status === 200 && hold && result.data.id === hold.id) {
    hold.expiresAt = localExpiry(result.data);
    hold.warned = false;
    show("hold-warning", false);
    show("extend-button", false);
    const minutes = Math.round((hold.expiresAt - Date.now()) / 60000);
    notice(`Your hold was extended: about ${minutes} minute${minutes === 1 ? "" : "s"} left.`);
    tick();
  } else {
    if (result.status === 422) show("extend-button", false);
    conflict(errorMessage(result));
  }
}

function endHold(message, released) {
  clearInterval(countdown);
  resetPayment();
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
  if (state !== "confirmed") {
    // A new attempt: the links of an earlier booking on this page do not belong to it.
    show("ticket-link", false);
    show("bookings-link", false);
  }
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
  bookingStatus(
    `${config.event.requiresPayment ? "Paid and booked!" : "Booked!"} Your reference is ${booking.reference}.`,
    "confirmed",
    via,
  );
  const link = $("ticket-link");
  link.href = ticketsUrl(booking.id || booking.booking_id);
  link.hidden = false;
  show("bookings-link", true);
  notice("Your tickets are on their way by email too.");
}

function failed(reason, message, via) {
  stopTracking();
  const text =
    message ||
    REASONS[reason] ||
    `The booking failed${reason ? ` (${reason.replaceAll("_", " ")})` : ""}.`;
  bookingStatus(text, "failed", via);
  endHold("", true);
  notice("");
  conflict(text);
}

// --- the payment step (paid events) ---------------------------------------------------------

function resetPayment() {
  paying = false;
  const step = $("payment-step");
  if (!step) return;
  step.hidden = true;
  $("card-frame").removeAttribute("src");
  $("book-button").hidden = false;
}

/** Show the bank's card form; its token (postMessage) registers the hold. */
function startPayment() {
  const total = $("hold-total").textContent;
  const query = new URLSearchParams({ origin: location.origin, label: `Pay ${total}` });
  $("card-frame").src = `${config.payment.url}?${query}`;
  $("book-button").hidden = true;
  show("payment-step", true);
  notice("Enter your card in the bank's form. Your seats stay held while the timer runs.");
}

function onBankMessage(event) {
  const frame = $("card-frame");
  if (!config.payment || event.origin !== config.payment.origin) return;
  if (!frame || event.source !== frame.contentWindow) return;
  const data = event.data || {};
  if (data.source !== "bank-simulator" || data.type !== "token") return;
  if (!hold || paying || typeof data.token !== "string") return;
  paying = true;
  register(data.token);
}

async function book() {
  if (!hold) return;
  if (config.event.requiresPayment) startPayment();
  else register("");
}

async function register(paymentToken) {
  $("book-button").disabled = true;
  $("release-button").disabled = true;
  bookingStatus(paymentToken ? "Paying…" : "Booking…", "pending");
  const body = paymentToken ? { hold: hold.id, payment_token: paymentToken } : { hold: hold.id };
  const result = await api("POST", config.api.registrations, body, {
    "Idempotency-Key": hold.key,
  });
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
    track(result.data.tracking_id, result.data.status_url);
  } else {
    const error = (result.data && result.data.error) || {};
    failed(error.code, errorMessage(result), "response");
  }
}

/** Follow a registration until it settles: /ws/me/ pushes, the status URL as a fallback. */
function track(trackingId, statusUrl) {
  if (tracking && String(tracking.id) === String(trackingId)) return;
  stopTracking();
  tracking = { id: trackingId, statusUrl, timer: setTimeout(poll, POLL_MS) };
  const early = recentPushes.get(String(trackingId));
  if (early) settle(early.status, early, early.reason, "ws");
}

/** A booking's state, from the 201 ("response"), /ws/me/ ("ws") or the status URL ("poll"). */
function settle(status, booking, reason, via) {
  if (status === "confirmed") confirmed(booking, via);
  else if (status === "failed" || status === "cancelled" || status === "expired") {
    failed(reason || (booking && booking.failure_reason), "", via);
  } else if (status === "pending_payment") {
    // The seats are ours until the bank answers; the hold's timer no longer applies.
    clearInterval(countdown);
    $("hold-countdown").textContent = "paying…";
    show("hold-warning", false);
    show("extend-button", false);
    show("payment-step", false);
    bookingStatus("Your seats are reserved; the bank is confirming your payment…", "payment", via);
    if (booking && booking.tracking_id) {
      track(
        booking.tracking_id,
        config.api.registrationStatus.replace(
          "00000000-0000-0000-0000-000000000000",
          booking.tracking_id,
        ),
      );
    }
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
  const extend = $("extend-button");
  if (extend) extend.addEventListener("click", extendHold);
  if (config.payment) window.addEventListener("message", onBankMessage);
  if (config.user.authenticated) {
    const me = new MyFeed(config.ws.me, onBookingPush);
    me.connect();
    window.seatMapMe = me;
  }
}

function resumeHold() {
  // The hold that ends last is picked up again; one panel shows one hold.
  const holds = [...config.myHolds].sort((a, b) => Date.parse(b.expires_at) - Date.parse(a.expires_at));
  if (holds.length) startHold(holds[0], true);
}

if (config.event.generalAdmission) wireGeneralAdmission();
else wireMap();
wireBooking();
resumeHold();
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
