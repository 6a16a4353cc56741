/** JSON over fetch with the session cookie and Django's CSRF header. */

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return decodeURIComponent(value.join("="));
  }
  return "";
}

/** A random UUID (crypto.randomUUID needs a secure context; this does not). */
export function uuid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * @returns {Promise<{status: number, ok: boolean, data: any}>} never throws for HTTP errors;
 *   a network failure is status 0 with an error shaped like the API's.
 */
export async function api(method, url, body = undefined, headers = {}) {
  let response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(method === "GET" ? {} : { "X-CSRFToken": cookie("csrftoken") }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    return {
      status: 0,
      ok: false,
      data: { error: { code: "network", message: "The server could not be reached." } },
    };
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  return { status: response.status, ok: response.ok, data };
}

export function errorMessage(result) {
  const error = result.data && result.data.error;
  if (error && error.message) return error.message;
  return `The request failed (HTTP ${result.status}).`;
}
