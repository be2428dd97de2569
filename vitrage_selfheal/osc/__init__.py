"""`openstack selfheal ...`: the OpenStackClient plugin (osc-lib, cliff)
over the same views and ledger calls as `vitrage-selfheal`."""
