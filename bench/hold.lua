-- wrk script: POST holds of consecutive seats, round robin over the buyers' credentials.
-- bench/holds.py writes the targets file first: path, seats, seats_per_hold, auth (header
-- values of `auth_header`, e.g. "Bearer <token>" or a session cookie), csrf, bare (the bare
-- baseline's body also names the owner and the TTL), ttl_ms.
-- Seats are taken in order and wrap around: with enough seats for the hold TTL, nearly every
-- hold succeeds, so the figure is of holds made, not of conflicts answered.
local targets = dofile(os.getenv("BENCH_TARGETS"))
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  seat_i = (tid - 1) * 9973 % #targets.seats
  auth_i = (tid - 1) * 7919 % #targets.auth
  created, conflict, throttled, other = 0, 0, 0, 0
end

function request()
  local seats = {}
  for i = 1, targets.seats_per_hold do
    seat_i = seat_i % #targets.seats + 1
    seats[i] = targets.seats[seat_i]
  end
  auth_i = auth_i % #targets.auth + 1
  local headers = {["Content-Type"] = "application/json"}
  headers[targets.auth_header] = targets.auth[auth_i]
  if targets.csrf then
    headers["X-CSRFToken"] = targets.csrf
  end
  local body = '{"seats": [' .. table.concat(seats, ",") .. ']'
  if targets.bare then
    body = body .. ', "owner": "' .. auth_i .. '", "ttl_ms": ' .. targets.ttl_ms
  end
  return wrk.format("POST", targets.path, headers, body .. "}")
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  elseif status == 409 then
    conflict = conflict + 1
  elseif status == 429 then
    throttled = throttled + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local totals = {created = 0, conflict = 0, throttled = 0, other = 0}
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do
      totals[key] = totals[key] + thread:get(key)
    end
  end
  io.write(string.format("latency_p50_ms=%.2f\n", latency:percentile(50) / 1000))
  io.write(string.format("latency_p99_ms=%.2f\n", latency:percentile(99) / 1000))
  io.write(string.format("requests=%d\n", summary.requests))
  io.write(string.format("duration_s=%.3f\n", summary.duration / 1e6))
  io.write(string.format("socket_errors=%d\n", summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
  for key, value in pairs(totals) do
    io.write(string.format("status_%s=%d\n", key, value))
  end
end
