-- wrk script for benchmarks/redirect_bench.py: cycle through URL paths.
--
--   wrk ... -s wrk_paths.lua URL -- PATHS_FILE ACTIVE_SECONDS [RATE_PER_THREAD]
--
-- PATHS_FILE has one request path per line. After ACTIVE_SECONDS each
-- connection stops sending (run wrk a little longer than that): every request
-- sent is then answered while wrk still counts, so the server's recorded
-- clicks can be compared exactly with the redirects wrk saw. With RATE > 0 a
-- shared schedule paces the thread's connections to that many requests per
-- second (wrk2's -R, where wrk2 is not packaged). done() prints one
-- machine-readable WRK_RESULT line for the harness.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]

local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

-- os.clock() is CPU time and os.time() whole seconds: neither can pace or cut off.
local function now()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
   return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

local requests = {}
local count = 0
local index = 0
local deadline = math.huge

function init(args)
   local file = assert(io.open(args[1], "r"))
   for line in file:lines() do
      if line ~= "" then
         count = count + 1
         -- Formatted once here: wrk.format per request would cost wrk, the
         -- bottleneck against nginx, more than the request itself.
         requests[count] = wrk.format("GET", line)
      end
   end
   file:close()
   assert(count > 0, "no paths in " .. args[1])
   deadline = now() + tonumber(args[2])

   local rate = tonumber(args[3] or "0") or 0
   if rate > 0 then
      local interval = 1 / rate
      local next_slot = now()
      -- wrk checks for delay() after init(), so defining it here turns pacing on.
      function delay()
         local t = now()
         -- A slot missed while every connection was busy is dropped, not made
         -- up with a burst: the achieved rate shows the shortfall instead.
         if next_slot < t then
            next_slot = t
         end
         local wait_ms = (next_slot - t) * 1000
         next_slot = next_slot + interval
         -- wrk truncates to whole milliseconds; rounding keeps the error centred.
         return math.floor(wait_ms + 0.5)
      end
   end
end

function request()
   if now() >= deadline then
      -- An empty write leaves the connection idle until wrk stops.
      return ""
   end
   index = index % count + 1
   return requests[index]
end

function done(summary, latency, _)
   local errors = summary.errors
   io.write(string.format(
      "WRK_RESULT requests=%d duration_us=%d status_errors=%d connect_errors=%d "
         .. "read_errors=%d write_errors=%d timeouts=%d p50_us=%d p99_us=%d max_us=%d\n",
      summary.requests, summary.duration, errors.status, errors.connect,
      errors.read, errors.write, errors.timeout,
      latency:percentile(50), latency:percentile(99), latency.max
   ))
end
