-- POST /message from the visitor of a random one of the listed sessions.
-- Args: <pairs file> (lines "sessionId visitorId"; the first 1,000 are used)
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local c = require("common")
setup = c.setup
done = c.done
local ids = {}
local counter = 0
function init(args)
  math.randomseed(os.time() * 1000 + tid)
  for _, line in ipairs(c.read_lines(args[1])) do
    if #ids >= 1000 then break end
    ids[#ids + 1] = line:match("^(%S+)")
  end
end
function request()
  counter = counter + 1
  local body = '{"sessionId":"' .. ids[math.random(#ids)] ..
    '","content":"Hello, I have a question about my order #' .. counter .. '","sender":"visitor","attachmentIds":[]}'
  return wrk.format("POST", wrk.path, c.headers, body)
end
