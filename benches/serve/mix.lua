-- wrk script for benches/serve/load.sh --mix: what the operators of a service business do at
-- once, as a weighted mix over the pre-created cases load-0 … load-(N-1). Case i is owned by
-- operator i mod K, and every request goes as that operator (their bearer token), so every
-- read is allowed and every write is the owner's:
--
--   weight  request                                               answer expected
--   40      POST attach_evidence (a `damage` photo reference)      200 applied (a write)
--    5      POST complete_job before the service is complete       409 service_event_not_complete
--   20      GET  /api/cases/{case} (every layer and the history)   200
--   10      GET  /api/desk (the operator's desk, moves judged)      200
--   10      GET  /desk (the desk as a page)                         200
--   10      GET  /api/cases/{case}/explain?command=complete_job     200
--    5      GET  /healthz                                           200
--
-- wrk answers in the order the connections complete, so `response` cannot tell which request an
-- answer belongs to: it counts answers by status (200, 409, other) and bodies of 200 POSTs are
-- not inspected. The refused share should come out near 5 %; anything else is reported as
-- `unexpected`.
--
-- Environment: PLANCK_TOKENS (the operators' bearer tokens, comma-separated, token k is
-- operator k's), PLANCK_CASES (how many cases exist).
local tokens = {}
for t in string.gmatch(os.getenv("PLANCK_TOKENS") or "", "[^,]+") do
  table.insert(tokens, t)
end
local cases = tonumber(os.getenv("PLANCK_CASES") or "256")
local threads = {}

-- The mix, as cumulative weights out of 100.
local mix = {
  { 40, "attach" },
  { 45, "refused" },
  { 65, "case" },
  { 75, "api_desk" },
  { 85, "desk" },
  { 95, "explain" },
  { 100, "healthz" },
}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  id = id or 0 -- set by setup() in this thread's state
  counter = 0
  ok = 0
  refused = 0
  unexpected = 0
  -- A fixed, per-thread sequence: runs are comparable and every kind comes up in proportion.
  math.randomseed(7919 + id)
end

function request()
  counter = counter + 1
  local case = math.random(0, cases - 1)
  local token = tokens[(case % #tokens) + 1]
  local headers = { ["Authorization"] = "Bearer " .. token }
  local roll = math.random(0, 99)
  local kind = "healthz"
  for _, entry in ipairs(mix) do
    if roll < entry[1] then
      kind = entry[2]
      break
    end
  end
  local path = "/api/cases/load-" .. case
  if kind == "attach" then
    headers["Content-Type"] = "application/json"
    local body = '{"args": {"category": "damage", "ref": "s3://load/' .. id .. '/' .. counter .. '.jpg"}}'
    return wrk.format("POST", path .. "/commands/attach_evidence", headers, body)
  elseif kind == "refused" then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", path .. "/commands/complete_job", headers, '{"args": {}}')
  elseif kind == "case" then
    return wrk.format("GET", path, headers)
  elseif kind == "api_desk" then
    return wrk.format("GET", "/api/desk", headers)
  elseif kind == "desk" then
    return wrk.format("GET", "/desk", headers)
  elseif kind == "explain" then
    return wrk.format("GET", path .. "/explain?command=complete_job", headers)
  end
  return wrk.format("GET", "/healthz", headers)
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  elseif status == 409 then
    refused = refused + 1
  else
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local ok_all, refused_all, unexpected_all = 0, 0, 0
  for _, thread in ipairs(threads) do
    ok_all = ok_all + (thread:get("ok") or 0)
    refused_all = refused_all + (thread:get("refused") or 0)
    unexpected_all = unexpected_all + (thread:get("unexpected") or 0)
  end
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "requests_per_s": %.1f, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "ok": %d, "refused_409": %d, "unexpected": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, ok_all, refused_all, unexpected_all,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
