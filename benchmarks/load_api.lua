-- wrk script for benchmarks/load_api.py: POSTs one JSON body (the first script argument) on every request and,
-- at the end, prints one parsable RESULT line with latency percentiles and every kind of error.
--
--   wrk -t1 -c8 -d30s --timeout 2s -s benchmarks/load_api.lua http://127.0.0.1:PORT/api/v1/duty -- '{"...": 1}'
--
-- wrk counts only status > 399 in summary.errors.status; the response hook counts every non-2xx answer
-- (a 1xx/3xx is not a success either) and keeps the first one for the report.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  if args[1] == nil or args[1] == "" then
    error("load_api.lua: pass the JSON body as the first script argument (after --)")
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = args[1]
  -- globals, so that done() can read them from each thread with thread:get
  non2xx = 0
  first_bad = ""
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == "" then
      first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 200)
    end
  end
end

function done(summary, latency, requests)
  local bad, first = 0, ""
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
    local f = t:get("first_bad")
    if first == "" and f ~= nil then first = f end
  end
  local e = summary.errors
  -- latency is in microseconds; wrk records it only for answered requests
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50=%.3f p99=%.3f max=%.3f connect=%d read=%d write=%d timeout=%d " ..
    "status=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.connect, e.read, e.write, e.timeout, e.status, bad))
  if first ~= "" then
    io.write("FIRST_BAD " .. string.gsub(first, "[\r\n]", " ") .. "\n")
  end
end
