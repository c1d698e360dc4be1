"""chat's own graph: its model and tools steps, compaction, the models and what is learnt of them, prices, roles."""
