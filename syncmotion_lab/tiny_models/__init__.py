"""Tiny random stand-ins for the real models (seconds on a CPU), for tests and benchmarks: Stable Diffusion and MDM."""
