-- Replays prepared requests, one per line: METHOD \t PATH \t CONTENT-TYPE \t HEADERS \t BODY
-- (HEADERS as name=value;name=value). Each request is used once before the list repeats,
-- so reveal benchmarks hit a distinct, still-waiting secret every time.
local requests = {}
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    local method, path, ctype, extra, body =
      line:match("^(%u+)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {}
    if ctype ~= "" then headers["Content-Type"] = ctype end
    for name, value in extra:gmatch("([^=;]+)=([^;]*)") do headers[name] = value end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end
