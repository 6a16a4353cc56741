/**
 * The bank's hosted card form, framed by a merchant's page. The card number goes from this
 * frame to the bank's own /tokens endpoint; the merchant's page receives only the token,
 * by postMessage to the origin the bank checked when it served this page.
 */

const config = JSON.parse(document.getElementById("card-config").textContent);
const form = document.getElementById("card-form");
const error = document.getElementById("card-error");
const submit = document.getElementById("card-submit");
const fields = ["card-number", "card-expiry", "card-cvc"].map((id) => document.getElementById(id));

function tell(message) {
  window.parent.postMessage({ source: "bank-simulator", ...message }, config.origin);
}

function luhn(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

/** The first problem with what was typed, as [field, message], or null. */
function problem(number, expiry, cvc) {
  if (!/^\d{12,19}$/.test(number) || !luhn(number)) {
    return [fields[0], "This card number is not valid."];
  }
  const match = /^(\d{2})\s*\/\s*(\d{2})$/.exec(expiry);
  const month = match ? Number(match[1]) : 0;
  const now = new Date();
  const year = match ? 2000 + Number(match[2]) : 0;
  if (!match || month < 1 || month > 12) return [fields[1], "Enter the expiry as MM/YY."];
  if (year < now.getFullYear() || (year === now.getFullYear() && month < now.getMonth() + 1)) {
    return [fields[1], "This card has expired."];
  }
  if (!/^\d{3,4}$/.test(cvc)) return [fields[2], "The CVC is the 3 or 4 digits on the back."];
  return null;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const number = fields[0].value.replace(/[\s-]/g, "");
  const expiry = fields[1].value.trim();
  const cvc = fields[2].value.trim();
  for (const field of fields) field.removeAttribute("aria-invalid");
  const wrong = problem(number, expiry, cvc);
  if (wrong) {
    wrong[0].setAttribute("aria-invalid", "true");
    wrong[0].focus();
    error.textContent = wrong[1];
    return;
  }
  error.textContent = "";
  submit.disabled = true;
  try {
    const response = await fetch("/tokens", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ card_number: number, expiry, cvc }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    tell({ type: "token", token: body.token, last4: body.last4 });
    error.textContent = "";
    submit.textContent = `Card •••• ${body.last4} sent`;
  } catch (failure) {
    error.textContent = `The card could not be checked (${failure.message}). Try again.`;
    submit.disabled = false;
  }
});

tell({ type: "ready" });
