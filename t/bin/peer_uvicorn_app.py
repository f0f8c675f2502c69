"""peer_uvicorn_app: a tiny ASGI app for t/peer-uvicorn.t.

Each answer names the clusterd slot and the uvicorn process:
    uvicorn worker ID (pid PID)
"""
import os


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = ("uvicorn worker %s (pid %d)\n" % (
        os.environ.get("CLUSTERD_WORKER_ID"), os.getpid())).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
