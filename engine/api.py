"""The library's entry points that span the layers: `assess` (which adds near misses, an
analysis, to the core's assessment), assessing batches of case files, in this process, in
worker processes or on a cluster (engine.cluster), and sweeps, here or on a cluster. `engine`
exports them."""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterator

from .core import run
from .core.coverage import coverage
from .core.run import default_pack, load_case, load_pack
from .errors import CaseError, DiploError, UsageError
from .inputs import plausibility
from .inputs.case import STDIN
from .lang.pack import PackSet
from .model import Case, CaseNotes, Report, SubjectNotes


def assess(case: Case, pack: PackSet | None = None, *, explain: bool = False,
           near_miss: float | None = None, strict: bool = False) -> Report:
    """Assess one case with a compiled pack set (the default pack when none is given).

    `explain` adds every derived fact with its provenance; `near_miss` (a margin such as 0.2)
    adds the rules that did not fire because one numeric condition fell short by at most that
    share of its threshold. The report says what could not be checked (`coverage`) and which
    figures look mistyped (`warnings`); `strict` refuses such a case instead (a CaseError
    naming each figure) unless the case accepts the warning. A case whose figures have ranges
    gets `robustness`: whether each finding holds across them."""
    pack = pack or default_pack()
    warnings = plausibility.check(case)
    if strict:
        refused = [w for w in warnings if not w.accepted]
        if refused:
            raise CaseError.several([CaseError(
                f"implausible: {w.message} (--strict makes this an error)", file=case.source
                or f"case {case.id}", line=w.line, column=w.column, path=w.path)
                for w in refused])
    if near_miss is None:
        report = run.assess(case, pack, explain=explain)
    else:
        from .analysis.whynot import near_misses   # only asked for near misses need it
        full = run.assess(case, pack, explain=True)
        report = full if explain else full.model_copy(update={"facts": None})
        report = report.model_copy(update={"near_misses": near_misses(case, pack, full,
                                                                      margin=near_miss)})
    additions = {"coverage": coverage(case, pack), "warnings": warnings,
                 "notes": case_notes(case)}
    if case.ranges():
        from .analysis.robustness import robustness   # only a case with ranges needs it
        additions["robustness"] = robustness(case, pack, report)
    return report.model_copy(update=additions)


def read_case(data: bytes | str, pack: PackSet | None = None, *, name: str,
              json: bool = False) -> Case:
    """A case from its text as received (a request's body) rather than from a file: read
    within the same limits and validated as `load_case` validates a file, its errors naming
    `name` where they would name the file (and its report's `case.source` too). `json` reads
    it as JSON, with JSON's own error messages; otherwise as YAML, of which JSON is a part."""
    from .inputs.case import case_of_document
    from .inputs.source import MAX_FILE_BYTES, decode_text, parse_json, parse_yaml
    from .errors import InputError
    pack = pack or default_pack()
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"is {len(raw):,} bytes; the limit is {MAX_FILE_BYTES:,}", file=name)
    text = decode_text(raw, name)
    doc = (parse_json if json else parse_yaml)(text, name)
    return case_of_document(doc, pack.categories, name)


def read_spreadsheet_case(data: bytes, pack: PackSet | None = None, *, name: str,
                          mapping: bytes | str | None = None,
                          mapping_name: str = "mapping.yaml") -> Case:
    """A case from a workbook or CSV file's bytes as received, with the text of a mapping
    file (docs/spreadsheets.md): errors and the report name them `name` and `mapping_name`.
    The bytes are read from a private temporary folder, which is removed afterwards."""
    import tempfile
    from pathlib import Path

    from .inputs.sheets import SHEET_SUFFIXES, load_mapping
    from .inputs.spreadsheet import load_spreadsheet_case
    pack = pack or default_pack()
    suffix = Path(name).suffix.lower()
    if suffix not in SHEET_SUFFIXES:
        raise UsageError(f"a spreadsheet's name ends with {', '.join(SHEET_SUFFIXES)}",
                         file=name)
    with tempfile.TemporaryDirectory(prefix="diplo-sheet-") as folder:
        sheet = Path(folder) / f"case{suffix}"
        sheet.write_bytes(data)
        found = None
        if mapping is not None:
            written = Path(folder) / "mapping.yaml"
            written.write_bytes(mapping.encode("utf-8") if isinstance(mapping, str)
                                else mapping)
            found = load_mapping(written, display=mapping_name)
        return load_spreadsheet_case(sheet, found, pack.categories, display=name)


def compile_years(pack: PackSet) -> None:
    """Compile now the variants of `pack` for every period its dated parameters distinguish
    (a variant is otherwise compiled by the first case of such a fiscal year), for a
    long-running program that compiles everything before it serves."""
    from .core.run import for_year
    years = sorted({dated.since for specs in pack.parameters.values()
                    for spec in specs.values() for dated in spec.by_year or ()})
    for year in [years[0] - 1] + years if years else []:
        for_year(pack, year)


def case_notes(case: Case) -> CaseNotes | None:
    """What the analyst wrote beyond the figures, for the report; None when nothing."""
    subjects = [SubjectNotes(id=part.id, field=f"{name}[{i}]", sources=list(part.sources),
                             notes=part.notes)
                for name in ("line_items", "commitments")
                for i, part in enumerate(getattr(case, name)) if part.sources or part.notes]
    if not (subjects or case.sources or case.notes or case.fiscal_year_label):
        return None
    return CaseNotes(fiscal_year_label=case.fiscal_year_label, sources=list(case.sources),
                     notes=case.notes, subjects=subjects)


def sweep(case: Case, pack: PackSet | None, path: str, start: float, stop: float,
          steps: int = 10, params: dict | None = None, *, executor: str | None = None):
    """engine.analysis.sweep.sweep: `case` assessed at `steps`+1 values of the field at
    `path` from `start` to `stop`, and where each finding switches. `executor` is the address
    of a Dask distributed scheduler: the points are assessed by the cluster's workers, which
    get the packs by content and the case as data; the sweep is the same."""
    from .analysis.sweep import sweep as run_sweep
    if executor is None:
        return run_sweep(case, pack, path, start, stop, steps, params)
    from .cluster import sweeping
    with sweeping(executor) as evaluator:
        return run_sweep(case, pack, path, start, stop, steps, params, evaluator=evaluator)


def assess_files(paths: list[str], pack: PackSet | None = None, *,
                 explain: bool = False, near_miss: float | None = None, jobs: int = 1,
                 on_error: Callable[[str, DiploError], None] | None = None,
                 progress: Callable[[int], None] | None = None,
                 strict: bool = False, executor: str | None = None) -> list[Report]:
    """Assess case files, each read, validated and assessed on its own, so that one invalid
    file does not stop the others; the reports come in the order of `paths`.

    An invalid file's error goes to `on_error(path, error)` (in the order of `paths`) and the
    file has no report. Without `on_error`, the first error is raised: a caller that does not
    ask about invalid files never gets a list that silently lacks one.

    `jobs` above 1 assesses in that many processes (this one and `jobs` - 1 workers, each of
    which loads the packs once; never more than there are files), 0 in one per CPU this
    process may run on; the reports are the same as one at a time. The workers are spawned, so a script that calls
    this with `jobs` above 1 keeps its own work under `if __name__ == "__main__":`, as
    multiprocessing requires. `progress(done)` is called as files end.
    """
    reports = []
    outcomes = assess_each(paths, pack, explain=explain, near_miss=near_miss, jobs=jobs,
                           progress=progress, stop_at_error=on_error is None, strict=strict,
                           executor=executor)
    for path, (report, error) in zip(paths, outcomes):
        if error is None:
            reports.append(report)
        elif on_error is None:
            raise error
        else:
            on_error(str(path), error)
    return reports


def assess_each(paths: list[str], pack: PackSet | None = None, *,
                explain: bool = False, near_miss: float | None = None, jobs: int = 1,
                progress: Callable[[int], None] | None = None, stop_at_error: bool = False,
                strict: bool = False, executor: str | None = None
                ) -> list[tuple[Report | None, DiploError | None]]:
    """(report, None) or (None, error) for each path, in the order of `paths`; see
    assess_files. `stop_at_error` ends the run at the first invalid file, when nothing after
    it is wanted (one process only; workers finish the batch)."""
    return list(iter_assess_each(paths, pack, explain=explain, near_miss=near_miss, jobs=jobs,
                                 progress=progress, stop_at_error=stop_at_error,
                                 strict=strict, executor=executor))


def iter_assess_each(paths: list[str], pack: PackSet | None = None, *,
                     explain: bool = False, near_miss: float | None = None, jobs: int = 1,
                     progress: Callable[[int], None] | None = None,
                     stop_at_error: bool = False, strict: bool = False,
                     executor: str | None = None
                     ) -> Iterator[tuple[Report | None, DiploError | None]]:
    """assess_each, one outcome at a time as soon as it is known, for a caller that writes
    each report while the batch goes on. The order is that of `paths` all the same: in one
    process each file's outcome comes as it ends; with workers, outcomes come a chunk at a
    time, as soon as every chunk before it has ended. Closing the iterator early stops the
    workers. A path `-` is standard input: a batch that reads it is assessed in this
    process.

    `executor` is the address of a Dask distributed scheduler (`tcp://host:8786`; the
    `distributed` extra): the files are read here and assessed by the cluster's workers,
    which get the packs' files by content, never by path; the outcomes are the same."""
    pack = pack or default_pack()
    paths = [str(path) for path in paths]
    options = {"explain": explain, "near_miss": near_miss, "strict": strict}
    if executor is not None and paths:
        yield from _assess_on_cluster(paths, pack, executor, options, progress)
        return
    auto = jobs == 0
    jobs = processes_for(jobs, len(paths))
    if jobs > 1 and STDIN not in paths:
        yield from _assess_in_parallel(paths, pack, jobs, options, progress, auto)
        return
    for done, path in enumerate(paths, 1):
        outcome = _assess_file(path, pack, options)
        if progress is not None and not (stop_at_error and outcome[1] is not None):
            progress(done)
        yield outcome
        if stop_at_error and outcome[1] is not None:
            return


# What a worker costs before its first file (starting Python, importing diplo, loading the
# packs: about 0.4 s on an idle machine of 2 CPUs, 1.3-1.9 s on one loaded 4-5 times over,
# and as much again to end), and the files this process assesses alone to time them: a
# batch starts workers only when what is left of it would take this process longer than
# that (and for --jobs 0, only as many as there are idle CPUs to run them)
WORKER_START_SECONDS = 2.0
PROBE_FILES = 8


def _assess_in_parallel(paths, pack, jobs, options, progress, auto=False):
    """A batch in up to `jobs` processes: workers are started for what follows the first
    files only when it would take this process longer than a worker takes to start, so that
    more processes are not slower than one; with `auto` (--jobs 0), no more than the CPUs
    left idle can run."""
    import time
    spent = 0.0
    head = paths[:PROBE_FILES]
    for done, path in enumerate(head, 1):
        started = time.perf_counter()
        outcome = _assess_file(path, pack, options)
        spent += time.perf_counter() - started
        if progress is not None:
            progress(done)
        yield outcome
    rest = paths[len(head):]
    if not rest:
        return
    workers = min(jobs - 1, len(rest) - 1, idle_cpus() if auto else jobs)
    if workers > 0 and spent / len(head) * len(rest) > WORKER_START_SECONDS:
        yield from _assess_in_workers(
            rest, pack, workers + 1, options,
            None if progress is None else (lambda done: progress(len(head) + done)))
        return
    for done, path in enumerate(rest, len(head) + 1):
        outcome = _assess_file(path, pack, options)
        if progress is not None:
            progress(done)
        yield outcome


def available_cpus() -> int:
    """The CPUs this process may run on: its affinity where the system has one (a container
    or `taskset` may allow fewer than the machine has), else the machine's count."""
    import os
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def idle_cpus() -> int:
    """The CPUs this process may use that nothing else keeps busy (this process counted
    busy), by the load average of the last minute: a worker started on a busy machine only
    takes time from the others, this process included."""
    import os
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return available_cpus() - 1
    return max(0, int(available_cpus() - max(load, 1.0)))


def processes_for(jobs: int, files: int) -> int:
    """How many processes assess `files` files when `jobs` are asked for (0: one per CPU
    this process may use): never more than there are files, since a process with no file
    to assess would only cost its start-up."""
    if jobs < 0:
        raise UsageError(f"jobs must be 0 (one per CPU) or more, not {jobs}")
    return max(1, min(jobs or available_cpus(), files))


def _assess_file(path: str, pack: PackSet, options: dict
                 ) -> tuple[Report | None, DiploError | None]:
    try:
        return assess(load_case(path, pack), pack, **options), None
    except DiploError as exc:
        return None, exc


def _assess_in_workers(paths, pack, jobs, options, progress):
    """`jobs` processes assess the files: this one and jobs - 1 workers. This process
    already has the packs loaded, so it works from the first moment (a worker first starts
    Python and loads them), and takes a chunk whenever no worker is free."""
    origin = getattr(pack, "origin", None)
    if origin is None:
        raise UsageError("assessing in several processes needs a pack from engine.load_pack()")
    # a case takes milliseconds: files go in chunks, so that sending work and results does not
    # cost more than the work; small enough chunks keep the workers even and progress moving
    size = max(1, min(16, len(paths) // (jobs * 4)))
    pending = deque(enumerate(paths[i:i + size] for i in range(0, len(paths), size)))
    results: dict[int, list] = {}
    ready_from = 0   # the first chunk not yet given to the caller
    # spawn, not fork: a forked child would inherit the locks of the caller's other threads
    # (assess_files may run in a threaded program) and the rule engine's native state
    import multiprocessing  # here, not at the top: only a batch in workers needs them
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    context = multiprocessing.get_context("spawn")
    done = 0

    def finished(index: int, outcomes: list) -> None:
        nonlocal done
        results[index] = outcomes
        done += len(outcomes)
        if progress is not None:
            progress(done)

    import threading
    # the kernel's signal on the parent's death follows the thread that started a worker:
    # only the main thread lives as long as this process
    main = threading.current_thread() is threading.main_thread()
    with ProcessPoolExecutor(jobs - 1, mp_context=context, initializer=_start_worker,
                             initargs=(origin, main)) as pool:
        running: dict = {}
        try:
            while pending or running:
                # two chunks per worker, so that a worker never waits while this process works
                while pending and len(running) < 2 * (jobs - 1):
                    index, chunk = pending.popleft()
                    running[pool.submit(_assess_in_worker, chunk, options)] = index
                if pending:
                    index, chunk = pending.popleft()
                    finished(index, [_assess_file(path, pack, options) for path in chunk])
                    ready = [f for f in running if f.done()]
                else:
                    ready = wait(running, return_when=FIRST_COMPLETED).done
                for future in ready:
                    finished(running.pop(future), future.result())
                # the chunks that now follow on from those given: in order, without waiting
                # for the batch to end
                while ready_from in results:
                    yield from results.pop(ready_from)
                    ready_from += 1
        except BaseException:
            for future in running:
                future.cancel()
            raise


_worker_pack: PackSet | None = None


def _start_worker(origin: dict, from_main_thread: bool = False) -> None:
    global _worker_pack
    # Ctrl-C reaches the whole process group: the parent stops the batch and says so once,
    # instead of every worker printing a traceback
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    end_with_parent(from_main_thread)
    _worker_pack = load_pack(*origin["specs"], params=origin["params"] or None,
                             disable=origin["disable"] or None,
                             severity=origin["severity"] or None)


def _assess_in_worker(paths: list[str], options: dict):
    return [_assess_file(path, _worker_pack, options) for path in paths]


def end_with_parent(from_main_thread: bool) -> None:
    """A worker ends as soon as the process that started it ends, however it ends (killed
    with SIGKILL included, when nothing of it can tell the workers to stop). Everywhere: a
    thread waits on the pipe to the parent that multiprocessing keeps open, which closes
    when the parent ends. On Linux, also the kernel's parent-death signal, which reaches a
    worker even while the rule engine holds the interpreter (its calls do not let other
    threads run), when the worker was started by the parent's main thread (the signal
    follows the thread that started it)."""
    import multiprocessing
    import multiprocessing.connection
    import os
    import sys
    import threading
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if from_main_thread and sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal
            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))
        except (OSError, AttributeError):
            pass   # the thread below still ends the worker

    def watch():
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)
    threading.Thread(target=watch, name="diplo-parent-watch", daemon=True).start()


# --- a batch on a Dask cluster -------------------------------------------------------------

def _assess_on_cluster(paths, pack, address, options, progress):
    """The files assessed by the workers of the Dask scheduler at `address`, in the order of
    `paths`. Each file is read here and sent as bytes with the name it was given; a file
    that cannot be read here is assessed here (its error is the one `--jobs 1` gives), and
    so is standard input."""
    from . import cluster
    from .inputs.source import MAX_FILE_BYTES
    cluster.dask()
    shipped = cluster.pack_content(pack)
    items: list[tuple[str, bytes] | None] = []
    for path in paths:
        data = None
        if path != STDIN:
            try:
                with open(path, "rb") as handle:
                    data = handle.read(MAX_FILE_BYTES + 1)
            except OSError:
                data = None
        items.append(None if data is None or len(data) > MAX_FILE_BYTES else (path, data))
    client = cluster.connect(address)
    with client:
        blob = client.scatter(shipped, broadcast=True, hash=True)
        size = cluster.CLUSTER_CHUNK
        chunks = [list(range(i, min(i + size, len(paths)))) for i in range(0, len(paths), size)]
        futures = {}
        for index, chunk in enumerate(chunks):
            remote = [items[i] for i in chunk if items[i] is not None]
            if remote:
                futures[index] = client.submit(_assess_remote, blob, remote, options,
                                               pure=False)
        # every chunk is submitted at once, and each is waited for in its turn: the order of
        # the outcomes is that of the paths
        done = 0
        for index, chunk in enumerate(chunks):
            future = futures.get(index)
            remote = [i for i in chunk if items[i] is not None]
            found = dict(zip(remote, future.result())) if future is not None else {}
            for i in chunk:
                done += 1
                if progress is not None:
                    progress(done)
                yield found[i] if i in found else _assess_file(paths[i], pack, options)


def _assess_remote(shipped: dict, items: list, options: dict) -> list:
    """On a cluster's worker: each (path, bytes) as `_assess_file` assesses the file at that
    path (its errors and its report name the path it was given)."""
    import tempfile
    from pathlib import Path

    from .cluster import worker_pack
    from .inputs.case import load_case_document
    pack = worker_pack(shipped)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="diplo-cases-") as folder:
        for n, (path, data) in enumerate(items):
            # the same suffix, which says how the file is read (JSON or YAML)
            local = Path(folder) / f"{n}{Path(path).suffix}"
            local.write_bytes(data)
            try:
                case = load_case_document(local, pack.categories, display=path)
                outcomes.append((assess(case, pack, **options), None))
            except DiploError as exc:
                outcomes.append((None, exc))
    return outcomes
