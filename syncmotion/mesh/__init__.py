"""Triangle meshes with UV textures: loading and checks, cameras, a CPU rasterizer, texture baking and export."""
