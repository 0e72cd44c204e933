-- GET /accounts/{id} on the bare ceiling program, cycling through the same
-- customers as me.lua (args[1]: one account id per line).

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(dir .. "common.lua")

local requests = {}
local position = 0

setup = bench.setup

function init(args)
   for _, id in ipairs(bench.lines(args[1])) do
      requests[#requests + 1] = wrk.format("GET", "/accounts/" .. id, {})
   end
   position = bench.start_offset(#requests)
end

function request()
   position = position % #requests + 1
   return requests[position]
end

done = bench.report
