"""syncmotion: long motions and wide images from pretrained diffusion models, synchronized with SyncSDE."""

__version__ = "0.1.0"
