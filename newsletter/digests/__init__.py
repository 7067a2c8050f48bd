"""Digests: editions, ranking, building, claims, cards, rendering, delivery and runs, one module
each (see the README's architecture section for how a paper travels through them)."""
