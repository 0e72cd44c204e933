-- POST /v1/auth/login with the correct password of the next customer in the
-- list (args[1]: one JSON body per line). Answers are counted by status, so
-- that 503 (hashing pool full) shows apart from real failures.
--
-- With args[2] = R, the thread offers R logins per second on a fixed
-- schedule whatever the answers do (open loop): each request takes the next
-- free slot of the schedule, and a connection waits for its slot. The rate
-- holds as long as some connection is free at each slot, so run.sh gives
-- the flood far more connections than requests are ever in flight.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(dir .. "common.lua")

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local now_buffer = ffi.new("bench_timespec")

local function now_ms()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, now_buffer)
   return tonumber(now_buffer.tv_sec) * 1000 + tonumber(now_buffer.tv_nsec) / 1e6
end

local requests = {}
local position = 0
local period_ms = nil
local next_slot_ms = nil

setup = bench.setup

function init(args)
   local headers = { ["Content-Type"] = "application/json" }
   for _, body in ipairs(bench.lines(args[1])) do
      requests[#requests + 1] = wrk.format("POST", "/v1/auth/login", headers, body)
   end
   position = bench.start_offset(#requests)
   local rate = tonumber(args[2])
   if rate then
      period_ms = 1000 / rate
      -- wrk looks for `delay` after init, so defining it here turns pacing
      -- on for this run only.
      delay = function()
         local now = now_ms()
         -- A slot missed because every connection was busy is skipped, not
         -- made up later in a burst.
         local slot = math.max(next_slot_ms or now, now)
         next_slot_ms = slot + period_ms
         return slot - now
      end
   end
end

sent = 0

function request()
   sent = sent + 1
   position = position % #requests + 1
   return requests[position]
end

function response(status)
   bench.count(status)
end

done = bench.report
