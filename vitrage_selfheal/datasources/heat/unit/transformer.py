"""heat.unit transformer: one RESOURCE vertex per unit, and its edges.

heat.stack (root) --comprised--> heat.unit --contains--> nova.instance, so
the instance's host (and a static switch above the host) are reachable
from the unit in templates. Vitrage's heat.stack datasource links the
stack to the same instances directly; both paths coexist.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

from vitrage.common.constants import DatasourceProperties as DSProps
from vitrage.common.constants import EdgeLabel, EntityCategory
from vitrage.common.constants import VertexProperties as VProps
from vitrage.datasources.heat.stack import HEAT_STACK_DATASOURCE
from vitrage.datasources.nova.instance import NOVA_INSTANCE_DATASOURCE
from vitrage.datasources.resource_transformer_base import (
    ResourceTransformerBase,
)
from vitrage.datasources.transformer_base import Neighbor, build_key
from vitrage.graph import Vertex
from vitrage.graph import utils as graph_utils

from vitrage_selfheal.datasources.heat.unit import HEAT_UNIT_DATASOURCE
from vitrage_selfheal.datasources.heat.unit.properties import (
    VERTEX_METADATA,
    unit_id,
)
from vitrage_selfheal.datasources.heat.unit.properties import UnitProps as P


class HeatUnitTransformer(ResourceTransformerBase):

    def _create_snapshot_entity_vertex(self, entity_event: dict) -> Vertex:
        return self._create_vertex(entity_event)

    def _create_update_entity_vertex(self, entity_event: dict) -> Vertex:
        # Push events carry the same fields as snapshot ones: the driver
        # re-reads Heat rather than passing the notification on.
        return self._create_vertex(entity_event)

    def _create_snapshot_neighbors(self, entity_event: dict
                                   ) -> list[Neighbor]:
        return self._create_unit_neighbors(entity_event)

    def _create_update_neighbors(self, entity_event: dict) -> list[Neighbor]:
        return self._create_unit_neighbors(entity_event)

    def _create_entity_key(self, entity_event: dict) -> str:
        return build_key(self._key_values(HEAT_UNIT_DATASOURCE,
                                          unit_id(entity_event)))

    def get_vitrage_type(self) -> str:
        return HEAT_UNIT_DATASOURCE

    def _create_vertex(self, entity_event: dict) -> Vertex:
        metadata: dict[str, Optional[Any]] = {
            key: entity_event.get(key) for key in VERTEX_METADATA}
        metadata[VProps.NAME] = entity_event.get(P.NAME)
        metadata[VProps.PROJECT_ID] = entity_event.get(P.PROJECT_ID) or None
        sample = entity_event[DSProps.SAMPLE_DATE]
        return graph_utils.create_vertex(
            self._create_entity_key(entity_event),
            vitrage_category=EntityCategory.RESOURCE,
            vitrage_type=HEAT_UNIT_DATASOURCE,
            vitrage_sample_timestamp=sample,
            entity_id=unit_id(entity_event),
            entity_state=entity_event.get(P.STATE),
            update_timestamp=_update_timestamp(sample),
            metadata=metadata)

    def _create_unit_neighbors(self, entity_event: dict) -> list[Neighbor]:
        neighbors = [self._create_neighbor(
            entity_event, entity_event[P.ROOT_STACK_ID],
            HEAT_STACK_DATASOURCE, EdgeLabel.COMPRISED,
            is_entity_source=False)]
        neighbors += [
            self._create_neighbor(entity_event, server_id,
                                  NOVA_INSTANCE_DATASOURCE,
                                  EdgeLabel.CONTAINS, is_entity_source=True)
            for server_id in entity_event.get(P.SERVER_IDS) or ()]
        return neighbors


@functools.lru_cache(maxsize=256)
def _update_timestamp(sample: str) -> str:
    # Vitrage's own formatting (a dateutil parse, ~0.1 ms), once per
    # distinct sample time: a snapshot's events all share one.
    return ResourceTransformerBase._format_update_timestamp(None, sample)
