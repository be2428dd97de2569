"""Vitrage templates: offline validation with Vitrage's own validator.

The templates themselves live in the repository's top-level ``templates/``
folder (operator-facing YAML); this package only checks them.
"""
