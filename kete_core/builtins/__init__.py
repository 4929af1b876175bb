"""Components that ship with kete-core, declared through entry points like any plugin's."""
