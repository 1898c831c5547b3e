"""`diplo serve`: assessments over HTTP, and a web page for analysts (docs/service.md).

- app.py: the endpoints (Starlette), each parsing its request, handing the work to a worker
  and sending the answer in the format asked for; `serve` runs it on uvicorn.
- pool.py: the worker model, a fixed pool of processes each with its own compiled packs.
- jobs.py: what a worker does with a request: read the case, call the library, render.
- options.py: query options, the output format by ?format= or Accept, the cases in a body.
- http.py: the body's size limit, the bearer token, the access log.
- problems.py: errors as RFC 9457 problem details, with the command line's messages.
- openapi.py: the OpenAPI description, from the models of the answers.
- page/: the web page at `/` (no request off the host, no external script).

This package sits just below engine.cli, whose `serve` command starts it; nothing else
imports it, so that no other command pays for its web stack (an extra, `diplo[serve]`).
"""
