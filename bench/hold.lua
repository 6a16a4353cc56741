-- wrk script: POST holds of 1 to 4 random seats for random logged-in buyers.
-- bench/holds.py writes var/bench/targets.lua (event id, seat ids, session cookies) first.
local targets = dofile(os.getenv("BENCH_TARGETS") or "var/bench/targets.lua")
local think_ms = tonumber(os.getenv("BENCH_THINK_MS") or "0")

function setup(thread)
  thread:set("id", math.random(1, 1000000))
end

function init(args)
  math.randomseed(os.time() + id)
end

function request()
  local n = math.random(1, 4)
  local seats = {}
  for i = 1, n do
    seats[i] = targets.seats[math.random(1, #targets.seats)]
  end
  local cookie = targets.cookies[math.random(1, #targets.cookies)]
  local headers = {
    ["Content-Type"] = "application/json",
    ["Cookie"] = "sessionid=" .. cookie .. "; csrftoken=" .. targets.csrf,
    ["X-CSRFToken"] = targets.csrf,
  }
  return wrk.format("POST", targets.path, headers, '{"seats": [' .. table.concat(seats, ",") .. ']}')
end

function delay()
  return think_ms
end

function done(summary, latency, requests)
  io.write(string.format("latency_p50_ms=%.2f\n", latency:percentile(50) / 1000))
  io.write(string.format("latency_p95_ms=%.2f\n", latency:percentile(95) / 1000))
  io.write(string.format("latency_p99_ms=%.2f\n", latency:percentile(99) / 1000))
  io.write(string.format("requests=%d\n", summary.requests))
  io.write(string.format("duration_s=%.3f\n", summary.duration / 1e6))
  io.write(string.format("socket_errors=%d\n", summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
  io.write(string.format("non_2xx=%d\n", summary.errors.status))
end
