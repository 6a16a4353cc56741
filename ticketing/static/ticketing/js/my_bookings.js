/**
 * My bookings: statuses follow /ws/me/ live; cancelling asks first, showing the refund the
 * buyer gets and until when, then calls the cancel API and shows what came back.
 */

import { api, errorMessage } from "../../seatmaps/js/api.js";
import { MyFeed } from "../../seatmaps/js/live.js";

const config = JSON.parse(
  document.head.querySelector('script[type="application/json"]#bookings-config').textContent,
);
const $ = (id) => document.getElementById(id);
const dialog = $("cancel-dialog");
const STATUS_TEXT = {
  pending: "Pending",
  queued: "Pending",
  processing: "Pending",
  pending_payment: "Awaiting payment",
  confirmed: "Confirmed",
  failed: "Failed",
  cancelled: "Cancelled",
  expired: "Expired",
};
let cancelling = null; // the booking card being cancelled
let promisedRefund = ""; // what its dialog said goes back (read before a push can change it)

function card(bookingId) {
  return document.querySelector(`.booking-card[data-booking-id="${CSS.escape(bookingId)}"]`);
}

function part(item, role) {
  return item.querySelector(`[data-role="${role}"]`);
}

function showStatus(item, status, reason = "") {
  item.dataset.status = status;
  part(item, "status").textContent =
    (STATUS_TEXT[status] || status) + (reason ? `: ${reason.replaceAll("_", " ")}` : "");
  part(item, "pdf").hidden = status !== "confirmed";
  const cancel = part(item, "cancel");
  if (cancel && status !== "confirmed") cancel.remove();
}

function askToCancel(item) {
  cancelling = item;
  const button = part(item, "cancel");
  promisedRefund = button.dataset.refund;
  const title = item.querySelector("h2").textContent;
  $("cancel-text").textContent = button.dataset.refund
    ? `${title}: your tickets are cancelled and ${button.dataset.refund} goes back to your card. ` +
      `You can do this until ${button.dataset.deadline}.`
    : `${title}: your tickets are cancelled and the seats go back on sale. This booking was free, so there is nothing to refund.`;
  $("cancel-error").hidden = true;
  $("cancel-confirm").disabled = false;
  dialog.showModal();
}

async function cancelConfirmed() {
  const item = cancelling;
  if (!item) return;
  $("cancel-confirm").disabled = true;
  const url = config.api.cancel.replace(
    "00000000-0000-0000-0000-000000000000",
    item.dataset.bookingId,
  );
  const result = await api("POST", url);
  if (!result.ok) {
    $("cancel-error").textContent = errorMessage(result);
    $("cancel-error").hidden = false;
    $("cancel-confirm").disabled = false;
    return;
  }
  const refund = promisedRefund;
  dialog.close("done");
  showStatus(item, result.data.status);
  part(item, "refund").textContent = refund
    ? `Refunded ${refund} to your card.`
    : "Cancelled; nothing was charged.";
  $("bookings-notice").textContent = `Booking ${result.data.reference} is cancelled.${
    refund ? ` ${refund} was refunded to your card.` : ""
  }`;
  cancelling = null;
}

for (const button of document.querySelectorAll('[data-role="cancel"]')) {
  button.addEventListener("click", () => askToCancel(button.closest(".booking-card")));
}
$("cancel-confirm").addEventListener("click", cancelConfirmed);
dialog.addEventListener("close", () => {
  if (cancelling) part(cancelling, "cancel")?.focus();
  cancelling = null;
});

const feed = new MyFeed(config.ws, (update) => {
  const item = card(String(update.booking_id || update.id || ""));
  if (item) showStatus(item, update.status, update.status === "failed" ? update.reason : "");
});
feed.connect();
window.myBookingsFeed = feed;
document.documentElement.dataset.ready = "true";
