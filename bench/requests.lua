-- Replays prepared requests, one per line: METHOD \t PATH \t CONTENT-TYPE \t HEADERS \t BODY
-- (HEADERS as name=value;name=value). Each request is used once before the list repeats,
-- so reveal benchmarks hit a distinct, still-waiting secret every time.
-- Arguments: the file, then wrk's thread count (default 1). Each wrk thread has its own Lua
-- state, so with several threads each takes every Nth line: otherwise they would all send
-- the same secrets. A list shorter than the thread count is shared whole.
local requests = {}
local index = 0
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  local count = tonumber(args[2]) or 1
  local lines = {}
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  if #lines < count then count = 1 end
  local own = (id or 0) % count
  for n, line in ipairs(lines) do
    if (n - 1) % count == own then
      local method, path, ctype, extra, body =
        line:match("^(%u+)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {}
      if ctype ~= "" then headers["Content-Type"] = ctype end
      for name, value in extra:gmatch("([^=;]+)=([^;]*)") do headers[name] = value end
      requests[#requests + 1] = wrk.format(method, path, headers, body)
    end
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end
