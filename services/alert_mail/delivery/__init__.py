"""Getting mail out: the delivery queue, the sending workers and the renderers."""
