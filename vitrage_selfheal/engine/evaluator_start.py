"""Starting Vitrage's evaluator on a loaded graph without visiting every
scenario from every vertex.

Vitrage starts its evaluator the way `ScenarioEvaluator.run_evaluator`
does: for every vertex, every scenario whose template entity the vertex
fits, a subgraph matching anchored at that vertex. A heat.unit or
nova.instance fits an entity of nearly every scenario, so a 10k-unit graph
costs ~16 matchings per vertex (73-120 s here) to find, at a fresh start,
almost nothing: most conditions need an alarm, and there is none yet.

Every match of a condition's clause binds a real graph vertex to each
entity that is reached from the action's target by positive edges and has
no negative (NOT) edge of its own; that vertex fits the entity, so the
evaluator visits it with that entity in the stock pass, and the matching
anchored there finds the match (Vitrage's event-driven evaluation relies
on exactly this: the event on any one element of a match finds it). So,
per clause and action, one such entity is enough: we take the one the
fewest vertices fit. A clause with an entity no vertex fits (an alarm, a
unit in SERVER_MISSING) has no match and costs one lookup per vertex.

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
    """`get_scenarios_by_vertex`, asked once per distinct combination of
    the properties the templates' entities test: the repository's answer
    depends on nothing else (Vitrage's check_filter reads `key`, and `x`
    for a `x.regex` key), and 10k units share a handful of combinations.
    """

    def __init__(self, repository: Any) -> None:
        self._repository = repository
        names: set[str] = set()
        for key in getattr(repository, "entity_scenarios", {}):
            for name, _value in key:
                names.add(name)
                if name.lower().endswith(".regex"):
                    names.add(name[:-len(".regex")])
        self._names = sorted(names)
        self._known: dict[tuple, list] = {}

    def scenarios(self, vertex: Any) -> list:
        signature = tuple(vertex.get(name) for name in self._names)
        try:
            return self._known[signature]
        except KeyError:
            pairs = self._known[signature] = \
                self._repository.get_scenarios_by_vertex(vertex)
            return pairs
        except TypeError:  # an unhashable value: asked as it is
            return self._repository.get_scenarios_by_vertex(vertex)


def _anchors(scenario: Any, evaluator: Any,
             counts: collections.Counter) -> set[_Key]:
    """One anchor entity per clause and action target of `scenario`."""
    from vitrage.graph.algo_driver.sub_graph_matching import NEG_CONDITION

    key = id(scenario)
    chosen: set[_Key] = set()
    for subgraph in scenario.subgraphs:
        negative = _negative_ends(subgraph, NEG_CONDITION)
        for action in scenario.actions:
            try:
                component = evaluator.get_connected_component(
                    subgraph, action.targets["target"])
                candidates = [v.vertex_id for v in component.get_vertices()
                              if v.vertex_id not in negative]
            except Exception:
                # A shape we did not foresee: the stock pass for it.
                LOG.debug("scenario %s: no anchor, all entities", scenario.id)
                candidates = []
            if not candidates:
                return {(key, e.vertex_id)
                        for e in scenario.entities.values()}
            chosen.add(min(((key, c) for c in candidates),
                           key=lambda k: (counts.get(k, 0), k[1])))
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
