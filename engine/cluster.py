"""Work on the workers of a Dask distributed cluster (the `distributed` extra, imported only
here and only when an address is given): connecting to a scheduler, the packs sent to the
workers by content and loaded there once per process, and the points of a sweep assessed
there. engine.api sends batches of case files through it (`--executor`)."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from .core.run import load_pack
from .errors import UsageError
from .lang.pack import PackSet
from .model import Case

# files or sweep points per task: a task costs the scheduler about a millisecond
CLUSTER_CHUNK = 16
# how long to wait for the scheduler to answer
CONNECT_TIMEOUT = "10s"


def dask():
    """The `distributed` module, or the UsageError that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise UsageError("--executor needs Dask distributed: pip install "
                         "\"diplo[distributed]\"") from None
    return distributed


def connect(address: str):
    """A client of the Dask scheduler at `address` (to be closed by the caller)."""
    distributed = dask()
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}",
                         path="--executor") from None


def pack_content(pack: PackSet) -> dict:
    """What a worker needs to load the same packs without reading a path of this machine:
    every file of every pack of the set (bases included) by its place relative to the folder
    that holds them all, which of them were named, the load options and a digest of it
    all."""
    import hashlib
    import os
    from pathlib import Path
    origin = getattr(pack, "origin", None)
    if origin is None:
        raise UsageError("assessing on a cluster needs a pack from engine.load_pack()")
    roots = [p.root.resolve() for p in pack.packs]
    common = Path(os.path.commonpath([str(r) for r in roots])) if len(roots) > 1 \
        else roots[0].parent
    files: dict[str, bytes] = {}
    for root in roots:
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(names):
                full = Path(folder) / name
                files[full.relative_to(common).as_posix()] = full.read_bytes()
    from .core import cache
    named = [root.resolve().relative_to(common).as_posix()
             for root in cache.named_roots(origin["specs"])]
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    digest.update(repr((named, origin["params"], origin["disable"], origin["severity"]))
                  .encode())
    from ._version import __version__
    return {"digest": digest.hexdigest(), "files": files, "named": named,
            "diplo": __version__,
            "options": {"params": origin["params"] or None,
                        "disable": origin["disable"] or None,
                        "severity": origin["severity"] or None},
            "packs": [(p.name, p.version) for p in pack.packs]}


_worker_packs: dict[str, tuple] = {}


def worker_pack(shipped: dict) -> PackSet:
    """The packs a cluster's worker loads from the files it was sent, once per process."""
    found = _worker_packs.get(shipped["digest"])
    if found is not None:
        return found[0]
    from ._version import __version__
    if shipped["diplo"] != __version__:
        # another version may judge the same case otherwise: never a mixed batch
        raise UsageError(f"a worker of the cluster runs diplo {__version__}, this is diplo "
                         f"{shipped['diplo']}; install the same version on every worker")
    import atexit
    import shutil
    import tempfile
    from pathlib import Path
    folder = Path(tempfile.mkdtemp(prefix="diplo-packs-"))
    atexit.register(shutil.rmtree, folder, True)
    for name, data in shipped["files"].items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    pack = load_pack(*[folder / name for name in shipped["named"]], **shipped["options"])
    loaded = [(p.name, p.version) for p in pack.packs]
    if loaded != [tuple(p) for p in shipped["packs"]] or any(
            not p.root.resolve().is_relative_to(folder.resolve()) for p in pack.packs):
        raise UsageError("a worker of the cluster loaded other packs than those sent to it "
                         f"({loaded}): a pack that extends an installed pack by name finds "
                         "the worker's own copy; name the base pack's folder instead")
    _worker_packs[shipped["digest"]] = (pack, folder)
    return pack


# --- a sweep's points ----------------------------------------------------------------------

@contextlib.contextmanager
def sweeping(address: str) -> Iterator[Callable]:
    """An evaluator for engine.analysis.sweep.sweep whose points are assessed by the workers
    of the Dask scheduler at `address`. It connects when the sweep calls it (once the sweep
    has checked its arguments), sends the packs by content and the case as data once to
    every worker, and then each call's values in tasks of several values; the workers make
    the variants of the case. The connection ends with the block."""
    clients = []

    def evaluator(case: Case, pack: PackSet, path: str):
        from .analysis.edit import case_data
        dask()
        shipped = pack_content(pack)
        client = connect(address)
        clients.append(client)
        packs = client.scatter(shipped, broadcast=True, hash=True)
        base = client.scatter({"data": case_data(case), "source": case.source},
                              broadcast=True, hash=True)
        threads = max(1, sum(client.nthreads().values()))

        def evaluate(values: list) -> list:
            # as many tasks as the workers have threads, so that a round of a few values
            # is spread too, and no task longer than CLUSTER_CHUNK values
            size = max(1, min(CLUSTER_CHUNK, -(-len(values) // threads)))
            futures = [client.submit(_sweep_points, packs, base, path, values[i:i + size],
                                     pure=False)
                       for i in range(0, len(values), size)]
            return [point for future in futures for point in future.result()]
        return evaluate

    try:
        yield evaluator
    finally:
        for client in clients:
            client.close()


def _sweep_points(shipped: dict, base: dict, path: str, values: list) -> list:
    """On a cluster's worker: the points of a sweep at `values`, the case made from the data
    it was sent, as this machine makes them."""
    from .analysis.sweep import points_of
    return points_of(base["data"], base["source"], worker_pack(shipped), path, values)
