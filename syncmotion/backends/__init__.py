"""Model adapters: each turns a model into a denoiser the engine calls."""
