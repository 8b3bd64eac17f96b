"""Adapters to the outside world: the SQL store, the durable event log, the transports."""
