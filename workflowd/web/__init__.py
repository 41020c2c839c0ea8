"""The local web page and JSON API the daemon serves (Starlette, uvicorn): guard, routes, server."""
