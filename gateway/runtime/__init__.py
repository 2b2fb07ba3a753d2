"""The running node: the container of one node's parts (settings, database, keys, partner
directory, schemas, sealer, clock, metrics), built once from the settings and handed down to
every context (no globals). It sits at the bottom of the application layer: the contexts above
(`exchange`, `access`, `cases`, `reports`) and the edges (`web`, `cli`) import it; it imports
only what lies below (`audit`, `store`, `trust`, `documents`, `protocol`). A node that serves
is opened by :func:`gateway.exchange.startup.open_node`, which adds the exchange's own inbound
handlers (the system documents)."""
