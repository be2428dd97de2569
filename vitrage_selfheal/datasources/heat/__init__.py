"""Heat datasources; the package name gives Vitrage's `heat.` prefix."""
