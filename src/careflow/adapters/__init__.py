"""Adapters: the database, files and the wire, behind the ports the services declare."""
