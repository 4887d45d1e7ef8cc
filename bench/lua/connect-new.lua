-- POST /connect for a visitor never seen before: a fresh visitorId on every request.
-- Args: <tag> (unique per run, so runs never reuse a visitorId)
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local c = require("common")
setup = c.setup
done = c.done
local counter, tag = 0, "x"
function init(args)
  tag = (args[1] or "x") .. "-" .. tostring(tid)
end
function request()
  counter = counter + 1
  local body = '{"visitorId":"v-' .. tag .. '-' .. counter ..
    '","sessionId":null,"metadata":{"url":"http://127.0.0.1/shop","referrer":"","language":"en-US","timezone":"Europe/Paris","screenResolution":"1920x1080"}}'
  return wrk.format("POST", wrk.path, c.headers, body)
end
