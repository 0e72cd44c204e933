-- Shared by the wrk scripts of bench/run.sh: reading the prepared files,
-- numbering wrk's threads, and one machine-readable report per run.
--
-- The report is a set of `bench <key> <value>` lines on stdout, which
-- run.sh reads back; wrk's own human-readable output comes before them.

local M = {}

local threads = {}

-- Non-empty lines of a file run.sh prepared (tokens, ids, login bodies).
function M.lines(path)
   local lines = {}
   for line in io.lines(path) do
      if line ~= "" then
         lines[#lines + 1] = line
      end
   end
   assert(#lines > 0, path .. " is empty")
   return lines
end

-- Called by wrk in its main Lua state once per thread, before `init`.
function M.setup(thread)
   thread:set("thread_index", #threads)
   threads[#threads + 1] = thread
end

-- Where a thread starts in a list of n entries, so that threads do not all
-- begin with the same customer.
function M.start_offset(n)
   local index = thread_index or 0
   return (index * 7919) % n
end

-- Counts responses by status in the thread's own state (only scripts that
-- need the split define wrk's `response`; parsing every answer costs CPU).
status_counts = {}
function M.count(status)
   local key = tostring(status)
   status_counts[key] = (status_counts[key] or 0) + 1
end

local function out(key, value)
   io.write(string.format("bench %s %s\n", key, tostring(value)))
end

function M.report(summary, latency)
   local e = summary.errors
   out("requests", summary.requests)
   out("duration_s", string.format("%.3f", summary.duration / 1e6))
   out("p50_ms", string.format("%.2f", latency:percentile(50) / 1000))
   out("p99_ms", string.format("%.2f", latency:percentile(99) / 1000))
   out("max_ms", string.format("%.2f", latency.max / 1000))
   -- wrk counts every answer with status >= 400 in `status`, and socket
   -- failures (refused, reset, no answer within --timeout) apart.
   out("errors_status", e.status)
   out("errors_socket", e.connect + e.read + e.write + e.timeout)
   local totals = {}
   local sent = 0
   for _, thread in ipairs(threads) do
      sent = sent + (tonumber(thread:get("sent")) or 0)
      local counts = thread:get("status_counts")
      if type(counts) == "table" then
         for status, n in pairs(counts) do
            totals[status] = (totals[status] or 0) + n
         end
      end
   end
   for status, n in pairs(totals) do
      out("status_" .. status, n)
   end
   -- Sent includes requests still unanswered when the time was up.
   if sent > 0 then
      out("sent", sent)
   end
end

return M
