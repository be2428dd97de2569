"""Starting Vitrage's evaluator on a loaded graph without visiting every
scenario from every vertex.

Vitrage starts its evaluator the way `ScenarioEvaluator.run_evaluator`
does: for every vertex, every scenario whose template entity the vertex
fits, a subgraph matching anchored at that vertex. A heat.unit or
nova.instance fits an entity of nearly every scenario, so a 10k-unit graph
costs ~16 matchings per vertex (73-120 s here) to find, at a fresh start,
almost nothing: most conditions need an alarm, and there is none yet.

Every match of a condition's clause that yields an action binds a real
graph vertex to the action's target, and to each entity reached from the
target by positive edges that has no negative (NOT) edge of its own; that
vertex fits the entity, so the evaluator visits it with that entity in
the stock pass, and the matching anchored there finds the match
(Vitrage's event-driven evaluation relies on exactly this: the event on
any one element of a match finds it). So, per clause and action, one such
entity is enough: we take the one the fewest vertices fit. Entities of a
scenario outside its condition (Vitrage offers every entity of the
template) never match and are dropped. A clause with an entity no vertex
fits (an alarm, a unit in SERVER_MISSING) has no match and costs one
lookup per vertex.

The evaluator itself is unchanged: `run_evaluator` runs as shipped, on
the same graph, through a view of the scenario repository (set with the
evaluator's own `scenario_repo` setter, the one template reloads use)
that answers `get_scenarios_by_vertex` with the anchor entities only; the
full repository is back before any action is processed. Matches found
several times in the stock pass reach the same active-actions rows, so
the actions taken are the same; only the order of actions within the
pass can differ (it follows the anchors' vertex order).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

LOG = logging.getLogger(__name__)

_Key = tuple[int, str]   # (id of the scenario object, entity vertex id)


class AnchoredScenarios:
    """A ScenarioRepository that offers each vertex only the scenario
    entities chosen as anchors; everything else is the real repository."""

    def __init__(self, repository: Any, evaluator: Any,
                 vertices: Iterable[Any]) -> None:
        from vitrage.common.constants import VertexProperties as VProps

        self._repository = repository
        self._pairs: dict[str, list] = {}
        counts: collections.Counter = collections.Counter()
        scenarios: dict[int, Any] = {}
        lookup = _Lookup(repository)
        for vertex in vertices:
            # Deleted vertices are skipped by the evaluator too.
            pairs = ([] if vertex.get(VProps.VITRAGE_IS_DELETED) else
                     lookup.scenarios(vertex))
            self._pairs[vertex.vertex_id] = pairs
            for entity, scenario in pairs:
                counts[(id(scenario), entity.vertex_id)] += 1
                scenarios[id(scenario)] = scenario
        self.anchors: set[_Key] = set()
        for scenario in scenarios.values():
            self.anchors |= _anchors(scenario, evaluator, counts)
        self.matchings = sum(counts[k] for k in self.anchors)
        self.stock_matchings = sum(counts.values())

    def get_scenarios_by_vertex(self, vertex: Any) -> list:
        pairs = self._pairs.get(vertex.vertex_id)
        if pairs is None:  # not in the graph when the view was built
            pairs = self._repository.get_scenarios_by_vertex(vertex)
        return [(entity, scenario) for entity, scenario in pairs
                if (id(scenario), entity.vertex_id) in self.anchors]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repository, name)


class _Lookup:
    """`get_scenarios_by_vertex`, asked once per distinct answer key.

    The repository tests each entity's properties with Vitrage's
    check_filter: `vertex[k] == value`, and for a `k.regex` key
    `vertex['k.regex'] == value` or the regex on `vertex[k]`. So the
    answer depends only on, per property a template tests, whether the
    vertex's value is one of the values tested (which one) and which of
    the regexes match it. 10k units named apart share a handful of keys.
    """

    _OTHER = object()

    def __init__(self, repository: Any) -> None:
        self._repository = repository
        values: dict[str, set] = collections.defaultdict(set)
        regexes: dict[str, set[str]] = collections.defaultdict(set)
        for key in getattr(repository, "entity_scenarios", {}):
            for name, value in key:
                values[name].add(value)
                if name.lower().endswith(".regex"):
                    regexes[name[:-len(".regex")]].add(value)
        self._tests = [
            (name, values.get(name, set()),
             [re.compile(r) for r in sorted(regexes.get(name, ()))])
            for name in sorted(set(values) | set(regexes))]
        self._known: dict[tuple, list] = {}

    def _key(self, vertex: Any) -> tuple:
        key = []
        for name, tested, patterns in self._tests:
            value = vertex.get(name)
            key.append(value if value in tested else self._OTHER)
            if patterns:
                key.append(None if value is None else
                           tuple(p.match(value) is not None
                                 for p in patterns))
        return tuple(key)

    def scenarios(self, vertex: Any) -> list:
        try:
            key = self._key(vertex)
        except TypeError:  # unhashable, or a regex on a non-string
            return self._repository.get_scenarios_by_vertex(vertex)
        if key not in self._known:
            self._known[key] = self._repository.get_scenarios_by_vertex(
                vertex)
        return self._known[key]


def _anchors(scenario: Any, evaluator: Any,
             counts: collections.Counter) -> set[_Key]:
    """One anchor entity per clause and action target of `scenario`."""
    from vitrage.graph.algo_driver.sub_graph_matching import NEG_CONDITION

    key = id(scenario)
    chosen: set[_Key] = set()
    for subgraph in scenario.subgraphs:
        negative = _negative_ends(subgraph, NEG_CONDITION)
        for action in scenario.actions:
            target = action.targets["target"]
            try:
                component = evaluator.get_connected_component(subgraph,
                                                              target)
                ids = {v.vertex_id for v in component.get_vertices()}
            except Exception:
                # A shape we did not foresee: the stock pass for it.
                LOG.debug("scenario %s: no anchor, all entities", scenario.id)
                return {(key, e.vertex_id)
                        for e in scenario.entities.values()}
            # The target is always a candidate: an action needs its
            # target bound to a real vertex (a match without one has no
            # action), e.g. `lb_member_error_unit AND NOT host_down [on]
            # lb_member_error_unit`, where every entity has a NOT edge.
            candidates = {v for v in ids if v not in negative} | (
                {target} & ids)
            if candidates:  # the fewest fitting vertices; ties by name
                chosen.add(min(((key, c) for c in sorted(candidates)),
                               key=lambda k: counts.get(k, 0)))
    return chosen


def _negative_ends(subgraph: Any, flag: str) -> set[str]:
    ends: set[str] = set()
    for vertex in subgraph.get_vertices():
        for edge in subgraph.get_edges(vertex.vertex_id):
            if edge.get(flag):
                ends.update((edge.source_id, edge.target_id))
    return ends


@contextlib.contextmanager
def anchored(evaluator: Any, vertices: Iterable[Any]) -> Iterator[Any]:
    """The evaluator answers from the anchored view inside the block."""
    full = evaluator.scenario_repo
    view = AnchoredScenarios(full, evaluator, vertices)
    evaluator.scenario_repo = view
    try:
        yield view
    finally:
        evaluator.scenario_repo = full
