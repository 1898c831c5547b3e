"""Compiling analysed rule packs onto durable_rules, and running one case through them.

This is the only module that imports durable_rules. It contains the engine's known failure
modes (see docs/rule-language.md, "How packs run"):

* no background threads: the Host's timer dispatcher is never started;
* every session runs at least one action (a guard rule on the case fact), because deleting a
  session in which nothing fired frees an uninitialised pointer;
* every fact is consumed (a sink rule), so no fact raises "not handled";
* a case is asserted as one batch, in a session of its own that is deleted when the case is
  done: retracting a case's facts to reuse the session walked the frames of completed actions
  that the engine never cleans up, and read memory no longer in use (valgrind showed it on
  ordinary cases); never more than one session open at a time per compiled pack (a lock), far
  below the engine's cap of 1024 live sessions;
* actions are driven through the engine's native calls, without durable's per-action
  closure, state re-serialisation and clock reads, which cost more than diplo's actions;
* only the fields some condition reads are sent to the engine;
* no integer division is ever compiled (division by a field is refused, by a constant becomes a
  multiplication), so division by zero cannot reach the engine;
* every number given to the engine is finite, within int64 and never in bare exponent form;
* negation is stratified: the engine never withdraws an activation when a blocking fact
  arrives later, so a rule with a 'not' waits for a stage fact that is asserted only after
  every fact of the negated kind exists (the case's facts, then each stratum's derivations);
* aliases are generated, so no binding can shadow the engine's own names;
* action errors are caught in the action and raised after the run, never swallowed;
* every assert's result is checked: the engine knows a fact in a session by a 32-bit hash of
  its id alone, and drops a second fact whose id hashes alike (code 2). A case where that
  happens is run again with ids renamed so that no two hash alike (see _Identities).
"""
from __future__ import annotations

import itertools
import threading
import traceback
import weakref

import orjson as _orjson

from ..errors import CaseError, EngineFailure, PackError
from ..lang import expr as ex
from ..lang.pack import PackSet, Rule
from ..lang.template import Template
from .bound import MatchBound
from .facts import Fact, clean_number
from .outcome import Emitted, Outcome, Record
from .reads import history_kinds, read_by_kind
from .translate import (
    GUARD,
    KIND,
    SINK,
    STAGE,
    _fields_in,
    _groups,
    _ShardFull,
    _Translator,
    durable_field,
    kind_field,
)

try:
    import durable_rules_engine as _native
    from durable import engine as _durable
except ImportError as _exc:  # pragma: no cover - depends on the interpreter
    raise ImportError(
        "diplo needs durable-rules 2.0.28, which runs on Python 3.11 and 3.12 only "
        f"(this is Python {__import__('sys').version.split()[0]}): {_exc}") from _exc

MAX_LEAKED_SESSIONS = 64
MAX_RESULTS = 10_000       # findings and derived facts of one case: beyond, joins multiply
ASSERT_BATCH = 256        # facts per call into the engine
MAX_SHARD_RULES = 4000     # durable: 4096 actions per ruleset, ours (guard, sink) included

_ruleset_names = itertools.count(1)


def engine_hash(fact_id: str) -> int:
    """The engine's identity of a fact in a session: FNV-1, 32 bits, over the id's bytes as
    they stand in the JSON it is given (orjson's escaping, UTF-8), each byte read as a signed
    char, as durable's C code reads it."""
    h = 0x811c9dc5
    for byte in _orjson.dumps(fact_id)[1:-1]:
        h = ((h ^ (byte if byte < 0x80 else byte | 0xFFFFFF00)) * 16777619) & 0xFFFFFFFF
    return h


class _Dropped(Exception):
    """The engine dropped a fact of the case as already there: an id hashing alike."""


class _Identities:
    """Ids for one case's facts in one session, no two of which the engine takes for one.

    Used only to run a case again after the engine dropped one of its facts (rare: about one
    case in a million has two ids that hash alike). An id whose hash is taken becomes
    `id#1`, `id#2`, ... in the engine, in the order the facts are asserted, so the same case
    is renamed the same way every time; diplo's own ids, in reports, are not changed."""

    def __init__(self, reserved):
        self.taken = {engine_hash(text) for text in reserved}
        self.records: dict = {}    # engine id -> the record it stands for

    def add(self, fact_id: str, record) -> str:
        engine_id, n = fact_id, 0
        h = engine_hash(engine_id)
        while h in self.taken:
            n += 1
            engine_id = f"{fact_id}#{n}"
            h = engine_hash(engine_id)
        self.taken.add(h)
        self.records[engine_id] = record
        return engine_id


def _dumps(value) -> str:
    # facts and messages cross into the engine as JSON for every fact and every action:
    # orjson does that several times faster than the standard library, with the same text
    # for the numbers diplo sends (finite, rounded, within int64; see clean_number)
    return _orjson.dumps(value).decode()


class _QuietHost(_durable.Host):
    """A Host without the background dispatcher threads, which crash the process."""

    def _run(self):
        pass


# --- per-case state ---------------------------------------------------------------------------


# --- translation --------------------------------------------------------------------------------


# --- the compiled pack -----------------------------------------------------------------------------

class _Session:
    """A shard's session kept open between cases: apart from the shard, so that deleting it
    when the compiled pack goes needs nothing that refers back to the pack."""

    __slots__ = ("handle", "sid", "guarded")

    def __init__(self):
        self.handle = None
        self.sid: str | None = None
        self.guarded = False     # an action ran in the current case


class _Shard:
    """One durable ruleset holding some of a pack set's rules, with the session it keeps
    open between cases. Rules that derive a fact and the rules that use it are always in
    the same shard, so each shard runs a case on its own."""

    def __init__(self, name: str, entries: dict[str, dict], kinds: set[str], counted):
        self.name = name

        def guard(matched):
            self.session.guarded = True
            counted()
        definition = dict(entries)
        definition["zz_guard"] = {"all": GUARD, "run": guard}
        definition["zz_sink"] = {"all": SINK, "run": guard}
        self.definition = definition
        # only the fields some condition reads go to the engine: a fact's other fields stay
        # in its Record, for messages and explanations, and cost nothing to send; likewise
        # only the kinds of fact its rules match
        self._engine_names: dict | None = None
        self.kinds = kinds | {"case"}
        self.runs = {key: entry["run"] for key, entry in definition.items()}
        self.session = _Session()

    @property
    def handle(self):
        return self.session.handle

    @property
    def engine_names(self) -> dict[str, str]:
        if self._engine_names is None:   # made when a case first runs, not on loading
            self._engine_names = {name: durable_field(name)
                                  for name in _fields_in(self.definition)}
        return self._engine_names

    def fact_json(self, fact_id: str, kind: str, fields: dict) -> str:
        """A fact as the engine gets it, in JSON."""
        names = self.engine_names
        engine_fact = {names[k]: v for k, v in fields.items() if k in names}
        engine_fact["sid"] = self.session.sid
        engine_fact["id"] = fact_id
        engine_fact[KIND] = kind
        engine_fact[kind_field(kind)] = 1
        return _dumps(engine_fact)

    def stage_json(self, level: int) -> str:
        return _dumps({"sid": self.session.sid, "id": f"{STAGE}{level}", KIND: STAGE,
                       kind_field(STAGE): 1,
                       "level": level})


def _release(sessions: list[_Session]) -> None:
    """Delete the sessions a compiled pack kept open, then its rulesets (4.5 MB of the
    engine's memory for the 103 rules of the default pack 2.0, which the engine's Python side
    never frees)."""
    for session in sessions:
        sid, session.sid = session.sid, None
        if sid is not None and session.guarded:
            _native.delete_state(session.handle, sid)
    for session in sessions:
        handle, session.handle = session.handle, None
        if handle is not None:
            _native.delete_ruleset(handle)


class CompiledPack:
    """A PackSet compiled into durable rulesets (one, unless the engine's per-ruleset limits
    need more), ready to assess cases."""

    def __init__(self, packset: PackSet, prepared: list | None = None):
        """`prepared` is what `prepared` gave for the same packs (engine.core.cache): the
        rules already translated, which then only need their actions."""
        self.packset = packset
        self.name = f"diplo_{next(_ruleset_names)}"
        self._lock = threading.Lock()
        self._sessions = itertools.count(1)
        self._current: Outcome | None = None
        self._active: _Shard | None = None
        self._pending: list[str] = []   # derived facts waiting for the queue to empty
        self._dropped = False           # the engine said it dropped a fact of this case
        self._ids: _Identities | None = None   # renamed ids, when a case is run again
        self._by_engine: dict = {}      # engine id -> record, for the actions
        self._leaked = 0
        self.host = _QuietHost()
        if prepared is None:
            parts = self._partition(packset)
            self.prepared = [({key: {k: v for k, v in entry.items() if k != "run"}
                               for key, entry in entries.items()}, set(kinds))
                             for entries, kinds in parts]
        else:
            self.prepared = prepared
            parts = [({key: {**entry, "run": self._action(packset.rules[int(key[1:])])}
                       for key, entry in entries.items()}, set(kinds))
                     for entries, kinds in prepared]
        self.shards = [self._shard(i, entries, kinds) for i, (entries, kinds) in enumerate(parts)]
        self._registered = False
        if prepared is None:
            # packs read from their files: the engine refusing them is an error of loading
            # them. Packs from the cache were taken once, and are given to the engine when
            # a case first needs them (a fiscal year's variant often replaces them unused)
            self._register()
        # the kinds of fact some rule matches (the case's, for the guard, always)
        self.kinds = frozenset().union(*(shard.kinds for shard in self.shards))
        self.read = read_by_kind(packset)
        self.history = history_kinds(self.read)
        self.bound = MatchBound(packset, MAX_RESULTS)
        # a session kept open between cases holds engine memory (about 11 KB per rule), and
        # a ruleset about as much again: when the compiled pack goes, both go
        weakref.finalize(self, _release, [shard.session for shard in self.shards])

    def _register(self) -> None:
        try:
            self.host.register_rulesets({shard.name: shard.definition for shard in self.shards})
        except Exception as exc:  # durable reports its own limits as bare codes
            raise PackError(f"the rule engine refused the compiled pack: {exc}",
                            file=str(self.packset.packs[0].root)) from None
        for shard in self.shards:
            shard.session.handle = self.host.get_ruleset(shard.name)._handle
        self._registered = True

    @property
    def definition(self) -> dict:
        """Every compiled rule (keys r0, r1, ... in the pack set's order), across shards."""
        merged: dict = {}
        for shard in self.shards:
            merged.update(shard.definition)
        return merged

    def _shard(self, index: int, entries: dict, kinds: set[str]) -> _Shard:
        return _Shard(self.name if index == 0 else f"{self.name}_{index}", entries, kinds,
                      self._count_guard)

    def _partition(self, packset: PackSet) -> list[tuple[dict, set[str]]]:
        """The rules, translated, in shards that each fit the engine's limits.

        A fact's deriving rules and the rules that use it form one group, which no limit may
        split (a group too big for one ruleset is an error that names its facts). Groups are
        added to the current shard while its limits allow, else to a new one."""
        groups = _groups(packset.rules, packset.derived_by)
        shards: list[tuple[dict, set[str]]] = []
        entries: dict = {}
        kinds: set[str] = set()
        translator = _Translator(packset)
        for group in groups:
            attempt = 0
            while True:
                saved = translator.snapshot()
                try:
                    if len(entries) + len(group) > MAX_SHARD_RULES:
                        raise _ShardFull()
                    translated = {}
                    for index in group:
                        rule = packset.rules[index]
                        translator.params = {name: spec.value for name, spec in
                                             packset.visible_parameters(rule.pack).items()}
                        translated[f"r{index}"] = {"all": translator.rule(rule),
                                                   "run": self._action(rule)}
                    break
                except (_ShardFull, PackError) as exc:
                    translator.restore(saved)
                    if not entries or attempt:
                        if isinstance(exc, _ShardFull):
                            first = packset.rules[group[0]]
                            raise first.at.error(
                                f"{len(group)} rules derive or use the same facts as rule "
                                f"'{first.id}'; the engine holds at most {MAX_SHARD_RULES} "
                                "rules that share facts") from None
                        raise
                    shards.append((entries, kinds))
                    entries, kinds, translator = {}, set(), _Translator(packset)
                    attempt += 1
            entries.update(translated)
            kinds |= {p.kind for index in group for p in packset.rules[index].patterns}
        shards.append((entries, kinds))
        return shards

    # actions

    def _count_guard(self) -> None:
        if self._current is not None:
            self._current.activations += 1
    def _action(self, rule: Rule):
        positive = rule.positive
        aliases = [f"p{i}" for i in range(len(positive))]   # positive patterns come first
        names = [p.name for p in positive]
        single = len(positive) == 1
        derive_kind = rule.derive_kind
        params = rule.params
        lets = list(rule.lets.items())
        # most derived fields copy a matched fact's field: read those directly, evaluate the rest
        derive_fields = [(name, node.parts if isinstance(node, ex.Ref) and len(node.parts) == 2
                          and node.parts[0] in names else None, node)
                         for name, node in rule.derive_fields.items()]

        def fire(matched: dict, outcome: Outcome, by_engine: dict):
            records = outcome.records
            bound = tuple(by_engine[matched[alias]["id"]] for alias in aliases)
            if single:
                subjects, key = bound[0].subjects, bound[0].key
            else:
                subjects = tuple(dict.fromkeys(s for r in bound for s in r.subjects))
                # identity comes from every matched fact, so two firings on different facts
                # about the same subjects (a commitment's two dependencies) are two results
                key = "+".join(dict.fromkeys(atom for r in bound if r.key
                                             for atom in r.key.split("+")))
            if derive_kind is not None:
                fact_id = f"{derive_kind}:{key}" if key else derive_kind
                if fact_id in records:
                    return  # derived already by an earlier firing; the first derivation stands
            elif (f"{rule.id}:{key}" if key else rule.id) in outcome.finding_ids:
                return
            named = dict(zip(names, bound))
            values: dict = {}

            def lookup(parts):
                if len(parts) == 1:
                    return values.get(parts[0], ex.MISSING)
                record = named.get(parts[0])
                if record is None:
                    return ex.MISSING
                return record.fields.get(parts[1], ex.MISSING)

            for name, node in lets:
                values[name] = ex.evaluate(node, lookup, params)
            if derive_kind is not None:
                fields = {}
                for name, direct, node in derive_fields:
                    if direct is not None:
                        value = named[direct[0]].fields.get(direct[1])
                    else:
                        value = clean_number(ex.evaluate(node, lookup, params))
                    if value is not ex.MISSING and value is not None:
                        fields[name] = value
                record = Record(fact_id, derive_kind, key, fields, subjects, None, rule, bound)
                records[fact_id] = record
                outcome.derived.append(record)
                self._count(outcome)
                self._assert_derived(fact_id, derive_kind, fields, record)
                return
            finding_id = f"{rule.id}:{key}" if key else rule.id
            outcome.finding_ids.add(finding_id)

            def text(template: Template | None):
                if template is None:
                    return None
                return template.render(
                    lambda name: params.get(name[1:], ex.MISSING) if name.startswith("$")
                    else lookup(tuple(name.split("."))), outcome.ctx)
            outcome.findings.append(Emitted(finding_id, rule, subjects, text(rule.message),
                                            text(rule.remediation), bound, text(rule.cause)))
            self._count(outcome)

        def run(matched):
            outcome = self._current
            if outcome is None:
                return
            outcome.activations += 1
            if outcome.overflow:
                return
            try:
                fire(matched, outcome, self._by_engine)
            except ex.ExprError as exc:
                # a value of this case that an expression of the rule cannot take (round()
                # to a case's number of decimals, say): the case is refused, naming the rule
                outcome.errors.append(CaseError(f"rule {rule.id} cannot compute its values "
                                                f"for this case: {exc.message}"))
            except Exception:  # recorded and raised after the run (never swallowed)
                outcome.errors.append(f"rule {rule.id}: {traceback.format_exc()}")
        return run

    @staticmethod
    def _count(outcome: Outcome):
        if len(outcome.derived) + len(outcome.findings) > MAX_RESULTS:
            outcome.overflow = True

    # running

    def _assert_derived(self, fact_id: str, kind: str, fields: dict, record) -> None:
        # inside an action: the fact is asserted with the others of its wave when the queue
        # of actions is empty (see _drain)
        if self._ids is not None:
            fact_id = self._ids.add(fact_id, record)
        self._pending.append(self._active.fact_json(fact_id, kind, fields))

    def _drain(self, shard: _Shard, result) -> None:
        """Run every action the engine has queued for the session.

        durable's own loop builds a closure, re-serialises the session state and reads the
        clock for each action; diplo's actions use none of that, so they are driven here
        through the same native calls, one action at a time, each completed before the next
        is started, as durable does."""
        runs = shard.runs
        pending = self._pending
        while True:
            state_handle = self._queued(result)
            if state_handle is not None:
                started = _native.start_action_for_state(shard.handle, state_handle)
                message = started[1] if started else None
                while message:
                    for action, matched in _orjson.loads(message).items():
                        runs[action](matched)
                    message = _native.complete_and_start_action(shard.handle, state_handle)
            if not pending:
                return
            # the facts the actions derived, in one batch: every rule they can activate is
            # positive (a 'not' waits for the next stage fact), so asserting them together
            # reaches the same facts as one at a time, with one call into the engine
            batch = "[" + ",".join(pending) + "]"
            pending.clear()
            result = _native.assert_facts(shard.handle, batch)

    def _queued(self, result):
        """The session state whose actions an assert queued (None when it queued none),
        having checked the assert's code."""
        code, state_handle = result[0], result[1]
        if code == 1:
            raise EngineFailure("the rule engine handled no rule for a fact")
        if code == 2:
            # a fact whose id hashes like one already in the session was dropped; the
            # actions still run, so that the session can be deleted, then the case is run
            # again (see run)
            self._dropped = True
        return state_handle if code != 3 else None

    def _open_session(self, shard: _Shard) -> None:
        if shard.session.sid is None:
            if self._leaked >= MAX_LEAKED_SESSIONS:
                raise EngineFailure("the rule engine has too many unfinished sessions")
            shard.session.sid = str(next(self._sessions))

    def _close_session(self, shard: _Shard) -> None:
        """Delete a shard's open session: its case is done, or failed."""
        sid, shard.session.sid = shard.session.sid, None
        if sid is None:
            return
        if shard.session.guarded:
            _native.delete_state(shard.handle, sid)
        else:
            self._leaked += 1  # deleting a session where nothing ran would crash

    def run(self, facts: list[Fact], ctx: dict) -> Outcome:
        """Assess one case's facts; returns what the rules derived and reported."""
        # refused before the engine spends the time and memory its joins would take
        self.bound.check(facts)
        with self._lock:
            if not self._registered:
                self._register()
            try:
                outcome = self._run_all(facts, ctx, renamed=False)
            except _Dropped:
                # two of the case's ids hash alike: again, with ids no two of which do
                try:
                    outcome = self._run_all(facts, ctx, renamed=True)
                except _Dropped:
                    raise EngineFailure(
                        "the rule engine dropped a fact of this case although no two of its "
                        "ids hash alike; the case cannot be assessed reliably") from None
        if outcome.errors:
            if isinstance(outcome.errors[0], CaseError):
                raise outcome.errors[0]
            raise EngineFailure(outcome.errors[0])
        if outcome.overflow:
            raise CaseError(f"the case yields more than {MAX_RESULTS:,} findings and derived "
                            "facts with these packs (many lines and commitments that every "
                            "rule joins); split it, or narrow the packs")
        return outcome

    def _run_all(self, facts: list[Fact], ctx: dict, renamed: bool) -> Outcome:
        outcome = Outcome(ctx=ctx)
        records = outcome.records
        for fact in facts:
            records[fact.id] = fact   # a case's fact serves as its record (Fact)
        self._current = outcome
        try:
            for shard in self.shards:
                self._run_shard(shard, facts, outcome, renamed)
        finally:
            self._current = self._active = self._ids = None
            self._by_engine = {}
            self._pending.clear()
            self._dropped = False
        return outcome

    def _run_shard(self, shard: _Shard, facts: list[Fact], outcome: Outcome,
                   renamed: bool = False) -> None:
        self._open_session(shard)
        self._active = shard
        shard.session.guarded = False
        kinds = shard.kinds
        records = outcome.records
        if renamed:
            # what else the session holds under an id: the engine's state message of the
            # session and the stage facts
            self._ids = ids = _Identities(
                [f"sid-{shard.session.sid}"]
                + [f"{STAGE}{n}" for n in range(1, self.packset.strata + 1)])
            self._by_engine = ids.records
            engine_id = lambda fact: ids.add(fact.id, records[fact.id])  # noqa: E731
        else:
            self._by_engine = records
            engine_id = lambda fact: fact.id  # noqa: E731
        given = [f for f in facts if f.kind in kinds]
        try:
            # the case's facts go in batches, and their actions run once all are in: the
            # engine matches a batch's facts one after another, so the actions it queues are
            # those of one batch of all of them, and a large case's JSON is never held whole
            queued = None
            for start in range(0, len(given), ASSERT_BATCH):
                result = _native.assert_facts(shard.handle, "[" + ",".join(
                    shard.fact_json(engine_id(f), f.kind, f.fields)
                    for f in given[start:start + ASSERT_BATCH]) + "]")
                if self._queued(result) is not None:
                    queued = result   # the session's actions, whichever batch queued them
            if queued is not None:
                self._drain(shard, queued)
            for level in range(1, self.packset.strata + 1):
                self._drain(shard, _native.assert_fact(shard.handle, shard.stage_json(level)))
            if self._dropped:
                raise _Dropped()
            if not shard.session.guarded:
                raise EngineFailure("the rule engine ran no action for this case")
            self._close_session(shard)
        except (EngineFailure, _Dropped):
            self._close_session(shard)
            raise
        except Exception as exc:
            self._close_session(shard)
            raise EngineFailure(f"the rule engine failed: {exc!r}") from exc
