-- Shared by the wrk scripts: JSON POSTs, per-thread ids, and a JSON summary line at the end.
local M = {}

local nthreads = 0
function M.setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
end

function M.read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then lines[#lines + 1] = line end
  end
  return lines
end

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

M.headers = { ["Content-Type"] = "application/json", ["X-PocketPing-Version"] = "2.6.0" }
return M
