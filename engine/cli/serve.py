"""`diplo serve`: the HTTP service and its web page (diplo docs service). Its web stack is an extra
(`pip install "diplo[serve]"`), imported only when this command runs."""
from __future__ import annotations

import click

from .common import pack_options, settings_for


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (the loopback interface by default: put a "
                   "reverse proxy in front to serve others: diplo docs service).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="The port to listen on.")
@pack_options
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Worker processes, each with its own compiled packs: the requests "
                   "assessed at once (one per core is the most that helps).")
@click.option("--queue", type=click.IntRange(0, 10_000), metavar="N",
              help="Requests that may wait for a worker; beyond them a request is refused "
                   "with 503 at once. Default: 4 per worker.")
@click.option("--time-limit", type=click.FloatRange(0.1, 3600), default=30.0,
              show_default=True, metavar="SECONDS",
              help="Answer 504 to a request still running after this long, and replace "
                   "its worker.")
@click.option("--max-body", type=click.IntRange(1024, 256 * 1024 * 1024),
              default=4 * 1024 * 1024, show_default=True, metavar="BYTES",
              help="Answer 413 to a request whose body is larger.")
@click.option("--token-file", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Require `Authorization: Bearer TOKEN` on the API (/v1/...), TOKEN being "
                   "the first line of FILE.")
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="Let pages of this origin (https://review.example.org) call the API from "
                   "a browser (repeatable). Default: none.")
@click.option("--no-access-log", is_flag=True,
              help="Do not log each request (method, path, status, size, time).")
def serve(host, port, packs, params, workers, queue, time_limit, max_body, token_file,
          cors_origins, no_access_log):
    """Serve assessments over HTTP, with a web page at / to paste or upload a case.

    The packs are loaded and compiled once, by each worker, before the first request;
    requests never name a pack or a file to read. Stop with Ctrl-C or SIGTERM: requests in
    flight are finished first.
    """
    try:
        from ..service.app import ServeOptions, serve as run_service
    except ImportError as exc:
        from ..errors import UsageError
        raise UsageError(f'diplo serve needs its extra: pip install "diplo[serve]" ({exc})',
                         path="serve") from None
    token = None
    if token_file is not None:
        token = _read_token(token_file)
    pack = settings_for(packs=packs, params=params).load_pack()
    options = ServeOptions(workers=workers, time_limit=time_limit, max_body=max_body,
                           queue=queue, token=token, cors_origins=list(cors_origins),
                           access_log=not no_access_log)
    run_service(pack, options, host=host, port=port)


def _read_token(path: str) -> str:
    from ..errors import UsageError
    from ..inputs.source import read_text
    lines = read_text(path).splitlines()
    token = lines[0].strip() if lines else ""
    if len(token) < 16 or any(c.isspace() or ord(c) < 33 for c in token):
        raise UsageError("the token must be at least 16 characters, on the first line, "
                         "without spaces", file=path, line=1)
    return token
