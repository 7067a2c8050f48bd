"""Papers: where they come from, how they are stored, how they are fetched."""
