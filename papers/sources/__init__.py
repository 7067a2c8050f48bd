"""Parsers for the three sources: bytes in, plain records out; no database in here."""
