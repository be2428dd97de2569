"""Names shared by the plugin, its Vitrage datasource and its Mistral
workflow: defined once here.

Imports nothing, so that every module (the datasource, which Vitrage
loads on its own, included) may import it.
"""

# The Vitrage datasource and vertex type of the units.
HEAT_UNIT_DATASOURCE = "heat.unit"

# The Mistral workflow that heals units (workflows/heal_units.yaml).
HEAL_WORKFLOW = "selfheal.heal_units"
# The one that resizes a group, marking units first (workflows/scale.yaml).
SCALE_WORKFLOW = "selfheal.scale"
# The ladder's steps other than replace: reboot or rebuild the units'
# servers (workflows/remedy_units.yaml).
REMEDY_WORKFLOW = "selfheal.remedy_units"
