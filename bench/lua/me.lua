-- GET /v1/me, each request with the access token of the next customer in
-- the list (args[1]: one token per line), so that the server reads many
-- different sessions and profiles rather than one hot row.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(dir .. "common.lua")

local requests = {}
local position = 0

setup = bench.setup

function init(args)
   for _, token in ipairs(bench.lines(args[1])) do
      requests[#requests + 1] =
         wrk.format("GET", "/v1/me", { ["Authorization"] = "Bearer " .. token })
   end
   position = bench.start_offset(#requests)
end

function request()
   position = position % #requests + 1
   return requests[position]
end

done = bench.report
