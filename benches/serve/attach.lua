-- wrk script for benches/serve/load.sh (workload `commands`): every request is an applied
-- command. Each request attaches one `damage` photo reference (an optional evidence category of
-- auto-detailing) to a claimed case, as its owner, cycling over the pre-created cases
-- load-0 … load-(N-1) (case i is owned by operator i mod K): every answer must be 200 `applied`
-- (the script counts the answers that are not and prints them at the end as `not_applied`).
--
-- Environment: PLANCK_TOKENS (the operators' bearer tokens, comma-separated, token k is
-- operator k's), PLANCK_CASES (how many cases exist).
local tokens = {}
for t in string.gmatch(os.getenv("PLANCK_TOKENS") or "", "[^,]+") do
  table.insert(tokens, t)
end
local cases = tonumber(os.getenv("PLANCK_CASES") or "256")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  id = id or 0 -- set by setup() in this thread's state
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  not_applied = 0
end

function request()
  counter = counter + 1
  local case = (counter + id * 7919) % cases
  local headers = {
    ["Authorization"] = "Bearer " .. tokens[(case % #tokens) + 1],
    ["Content-Type"] = "application/json",
  }
  local body = '{"args": {"category": "damage", "ref": "s3://load/' .. id .. '/' .. counter .. '.jpg"}}'
  return wrk.format(nil, "/api/cases/load-" .. case .. "/commands/attach_evidence", headers, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"outcome":"applied"', 1, true) then
    not_applied = not_applied + 1
  end
end

function done(summary, latency, requests)
  local refused = 0
  for _, thread in ipairs(threads) do
    refused = refused + (thread:get("not_applied") or 0)
  end
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "requests_per_s": %.1f, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "not_applied": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, refused,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
