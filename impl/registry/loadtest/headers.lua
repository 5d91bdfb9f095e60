-- wrk script: adds the headers npm sends, and a bearer token when TOKEN is set.
--   TOKEN=...  ACCEPT=application/vnd.npm.install-v1+json  wrk -s headers.lua ...
local token = os.getenv("TOKEN")
local accept = os.getenv("ACCEPT")
wrk.headers["Accept-Encoding"] = "gzip"
wrk.headers["User-Agent"] = "npm/11.0.0 node/v20.0.0 linux x64 workspaces/false"
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
if accept ~= nil and accept ~= "" then
  wrk.headers["Accept"] = accept
else
  wrk.headers["Accept"] = "application/json"
end

-- DELAY_MS paces each connection: it waits that long after each response
-- before sending the next request, so 50 connections offer a bounded rate
-- instead of saturating the server (latency excludes the wait).
local pause = tonumber(os.getenv("DELAY_MS") or "")
if pause ~= nil and pause > 0 then
  function delay()
    return pause
  end
end
