"""Tasks built on the engine: plan the windows, sample, post-process (long motion, the image tasks)."""
