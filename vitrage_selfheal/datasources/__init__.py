"""Vitrage datasources; add this package to Vitrage's datasources path.

Vitrage imports `<path>.<type>` for each name in `[datasources] types`
(trying each entry of `[datasources] path` in turn and swallowing
ImportError), so the type `heat.unit` lives in the package `heat/unit/`.
Modules on that import path import nothing that may be missing: the
failure would only surface later as "no such option transformer".

vitrage.conf::

    [datasources]
    types = nova.host,nova.instance,heat.stack,heat.unit,static
    path = vitrage.datasources,vitrage_selfheal.datasources

    [entity_graph]
    datasources_values_dir = <vitrage_selfheal.datasources.values.values_dir()>
"""
