-- Paces wrk: each connection waits 17 ms after every answer before its next request, so four
-- connections send about 200 requests a second (answers take 1–2 ms) instead of as many as the
-- server can take: the rate the viewer's latency target is stated at.
function delay()
  return 17
end
