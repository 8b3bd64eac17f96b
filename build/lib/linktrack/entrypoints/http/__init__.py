"""The HTTP front: uvicorn (httptools + uvloop), with clicks answered before ASGI.

A click is a few obvious steps: verify the signature with keys held in memory
(no database read), append the click to the durable event log, answer 302.
Routing frameworks cost several times the whole request here
(../shared/PERF-NOTES.md), and so does the coroutine, task and ASGI message
round trip a general server spends on each request. So `ClickProtocol`
(`click_protocol`) answers a `GET`/`HEAD /e/c/…` itself, from httptools'
callbacks: the append's callback writes the 302. At the first request on a
connection that is anything else it hands the connection to uvicorn's own
protocol and `TrackingFront` (`front`), an ordinary ASGI app that serves
opens, short links, the API and slow-path clicks (a POST, an oversized
request). Both apply the click rules of `linktrack.service.clicks` and send
the fixed responses of `responses`.
"""
