-- wrk script for the intake bench: POSTs of a JSON body whose "@PHONE@" is replaced by a
-- phone number unique to the request (every caller is a new customer), a bearer token per
-- thread (tokens handed out round-robin), and a machine-readable summary line at the end.
-- usage: wrk -t T -c C -d D -s wrk.lua URL -- BODY_FILE TOKEN1,TOKEN2,... RUN(10..99)
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  template = f:read("*a")
  f:close()
  local tokens = {}
  for t in string.gmatch(args[2] or "", "[^,]+") do table.insert(tokens, t) end
  run = args[3] or "10"
  headers = {["Content-Type"] = "application/json"}
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[((tid - 1) % #tokens) + 1]
  end
  n = 0
end

function request()
  n = n + 1
  -- 139 + run + thread + request: a number intake's phone check accepts (China Mobile's block)
  local phone = string.format("139%02d%d%05d", tonumber(run) % 100, tid % 10, n % 100000)
  local body = string.gsub(template, "@PHONE@", phone)
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "mean": %.1f, "max": %d, "min": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.mean, latency.max, latency.min))
end
