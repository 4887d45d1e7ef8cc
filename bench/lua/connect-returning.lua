-- POST /connect for a returning visitor: a random (sessionId, visitorId) pair from the seeded list.
-- Args: <pairs file> (lines "sessionId visitorId")
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local c = require("common")
setup = c.setup
done = c.done
local bodies = {}
function init(args)
  math.randomseed(os.time() * 1000 + tid)
  for _, line in ipairs(c.read_lines(args[1])) do
    local sid, vid = line:match("^(%S+)%s+(%S+)$")
    bodies[#bodies + 1] = '{"visitorId":"' .. vid .. '","sessionId":"' .. sid ..
      '","metadata":{"url":"http://127.0.0.1/shop","referrer":"","language":"en-US","timezone":"Europe/Paris","screenResolution":"1920x1080"}}'
  end
end
function request()
  return wrk.format("POST", wrk.path, c.headers, bodies[math.random(#bodies)])
end
