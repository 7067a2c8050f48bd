"""Personalisation: paper representations, a model per reader, scoring, recommendations and
nearest neighbours (arxiv-sanity-lite's shape: features once, small linear models, one
matrix product)."""
