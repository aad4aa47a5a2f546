"""Mesh texturing below the model: loading, the rasterizer against a ray cast, texture↔view round trips, and the
texel layout on the engine (an oracle denoiser, SyncSDE's explicit update, sequential X̃)."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler

from syncmotion.engine import SyncSDE, sample
from syncmotion.engine.texel_layout import TexelLayout
from syncmotion.mesh.cameras import Camera, ring_cameras
from syncmotion.mesh.load import MeshError, load_mesh, prepare_mesh
from syncmotion.mesh.texture import bake, pixel_uv, render_views, view_raster, view_texels
from syncmotion_lab.procedural_mesh import atlas_cube, uv_sphere


@pytest.fixture(scope="module")
def sphere():
    return prepare_mesh(uv_sphere(rings=12, segments=24), "sphere")


def ray_cast(mesh, camera: Camera, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest face [P] and its barycentrics [P, 3] along each pixel-centre ray (Möller–Trumbore on every face)."""
    y, x = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    origin, direction = camera.ray(x.flatten(), y.flatten(), size, size)
    corners = mesh.vertices[mesh.faces].double()
    origin, direction = origin.double(), direction.double()
    edge1, edge2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    p = torch.linalg.cross(direction[:, None], edge2[None].expand(len(direction), -1, -1))
    det = (p * edge1[None]).sum(-1)
    s = origin - corners[:, 0]
    u = (s[None] * p).sum(-1) / det
    q = torch.linalg.cross(s, edge1)
    v = (direction[:, None] * q[None]).sum(-1) / det
    distance = (edge2 * q).sum(-1)[None] / det
    hit = (u >= 0) & (v >= 0) & (u + v <= 1) & (distance > 0) & (det.abs() > 1e-12)
    distance = torch.where(hit, distance, torch.inf)
    nearest, face = distance.min(dim=1)
    face = torch.where(torch.isfinite(nearest), face, -1)
    rows = torch.arange(len(face))
    bary = torch.stack([1 - u[rows, face] - v[rows, face], u[rows, face], v[rows, face]], dim=-1)
    return face, bary


@pytest.mark.parametrize("shape", ["sphere", "cube"])
def test_rasterized_uvs_agree_with_a_ray_cast(shape: str) -> None:
    mesh = prepare_mesh(uv_sphere(rings=12, segments=24) if shape == "sphere" else atlas_cube(), shape)
    camera, size = Camera(elevation=25, azimuth=35), 48
    raster = view_raster(mesh, camera, size)
    face, bary = ray_cast(mesh, camera, size)
    covered = face >= 0
    # Coverage differs only on pixel centres that lie on a silhouette edge within rounding.
    assert (covered != raster.covered.flatten()).float().mean() <= 0.005
    both = covered & raster.covered.flatten()
    same_face = both & (face == raster.face.flatten())
    assert same_face.sum() >= 0.98 * both.sum()
    ray_uv = (bary[same_face].unsqueeze(-1) * mesh.uv[mesh.faces[face[same_face]]].double()).sum(-2)
    raster_uv = pixel_uv(mesh, raster).reshape(-1, 2)[same_face].double()
    assert (ray_uv - raster_uv).abs().max() < 1e-4
    # Depth: the ray's distance projected on the view axis.
    assert bool(torch.isinf(raster.depth.flatten()[~raster.covered.flatten()]).all())


def test_latent_texture_view_round_trip_is_identity_on_seen_texels(sphere) -> None:
    texels = view_texels(sphere, ring_cameras(4, top_views=1), view_size=24, texture_size=20)
    layout = TexelLayout(texels, 400)
    canvas = torch.randn(2, 3, *layout.canvas_dims, generator=torch.Generator().manual_seed(0))
    views = layout.crop(canvas)
    seen = torch.zeros(400, dtype=torch.bool)
    seen[texels[texels >= 0]] = True
    assert 0.3 < float(seen.float().mean()) < 1.0
    for mode in ("mean", "paste"):
        back = layout.merge(views, mode)
        # The mean of equal copies is the value up to float rounding; pasting copies it.
        torch.testing.assert_close(layout.texture(back)[..., seen], layout.texture(canvas)[..., seen], atol=1e-6, rtol=0)
        assert bool((layout.texture(back)[..., ~seen] == 0).all())
        # Background pixels keep their own slots; pixels seeing a texel read it.
        torch.testing.assert_close(layout.crop(back), views, atol=1e-6, rtol=0)


def test_rgb_bake_round_trip_recovers_a_smooth_texture(sphere) -> None:
    size = 32
    v, u = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    texture = torch.stack([0.5 + 0.4 * torch.sin(2 * torch.pi * u), 0.5 + 0.4 * torch.cos(torch.pi * v), u * v])
    cameras = ring_cameras(6)
    views = render_views(sphere, texture, cameras, 128, shade=False)
    baked, seen = bake(sphere, views, cameras, size)
    assert float(seen.float().mean()) > 0.65  # the bottom cap faces no camera
    error = (baked - texture)[:, seen].abs()
    assert float(error.mean()) < 0.003 and float(error.max()) < 0.05


def test_mesh_without_uvs_gets_xatlas_uvs_and_obj_loading_keeps_uvs(tmp_path) -> None:
    sphere = uv_sphere(rings=6, segments=10)
    path = tmp_path / "ball.obj"
    sphere.export(path)
    loaded = load_mesh(path)
    assert loaded.uv_source == "file" and float((loaded.vertices.norm(dim=1) - 1).abs().max()) < 1e-5
    bare = uv_sphere(rings=6, segments=10)
    bare.visual = bare.visual.to_color()
    unwrapped = prepare_mesh(bare, "bare")
    assert unwrapped.uv_source == "xatlas"
    assert float(unwrapped.uv.min()) >= 0 and float(unwrapped.uv.max()) <= 1
    # Every face keeps a non-degenerate UV triangle.
    corners = unwrapped.uv[unwrapped.faces]
    e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    assert bool(((e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).abs() > 0).all())


def test_non_manifold_and_empty_meshes_are_refused() -> None:
    import trimesh

    fan = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]], [[0, 1, 2], [0, 1, 3], [0, 1, 4]],
                          process=False)
    with pytest.raises(MeshError, match="non-manifold: 1 edge is shared"):
        prepare_mesh(fan, "fan")
    with pytest.raises(MeshError, match="no faces"):
        prepare_mesh(trimesh.Trimesh([[0, 0, 0]], [], process=False), "dots")
    with pytest.raises(MeshError, match="more than --max-faces 10"):
        prepare_mesh(uv_sphere(rings=6, segments=10), "ball", max_faces=10)


class TextureOracle:
    """x̂0 is always each view's render of one fixed latent texture (background slots fixed too)."""

    prediction_type = "sample"

    def __init__(self, layout: TexelLayout, canvas: torch.Tensor) -> None:
        self.views = layout.crop(canvas)[0]

    def __call__(self, sample: torch.Tensor, timesteps: torch.Tensor, conds: list[int]) -> torch.Tensor:
        return self.views[conds]


def ddim(**overrides) -> DDIMScheduler:
    config = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False)
    return DDIMScheduler(**config | overrides)


@pytest.mark.parametrize("strategy", ["syncsde", "multidiffusion", "synctweedies", "independent"])
def test_oracle_denoiser_gives_back_its_texture(sphere, strategy: str) -> None:
    texels = view_texels(sphere, ring_cameras(4, top_views=1), view_size=16, texture_size=12)
    layout = TexelLayout(texels, 144)
    truth = torch.randn(1, 2, *layout.canvas_dims, generator=torch.Generator().manual_seed(1))
    result = sample(TextureOracle(layout, truth), ddim(set_alpha_to_one=True), layout, list(range(layout.num_windows)),
                    latent_shape=(2,), strategy=strategy, steps=10, generator=torch.Generator().manual_seed(2),
                    progress=False)
    seen = torch.zeros(144, dtype=torch.bool)
    seen[texels[texels >= 0]] = True
    texture = layout.texture(layout.merge(result.windows, "mean"))
    torch.testing.assert_close(texture[..., seen], layout.texture(truth)[..., seen], atol=1e-3, rtol=0)
    assert result.model_calls == 10


class FixedMap:
    """A fixed random nonlinear map of each view, conditioned on its index."""

    prediction_type = "epsilon"

    def __init__(self, size: int) -> None:
        self.weight = torch.randn(size, size, generator=torch.Generator().manual_seed(4)) / size**0.5

    def __call__(self, sample: torch.Tensor, timesteps: torch.Tensor, conds: list[int]) -> torch.Tensor:
        cond = torch.tensor(conds, dtype=torch.float32)[:, None]
        return (torch.tanh(sample.flatten(1) @ self.weight.T) * (1 + 0.1 * cond)).reshape(sample.shape)


def earlier_views_mean(y: torch.Tensor, texels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """X̃ and M by loops: view i's pixel takes the mean of views 0..i−1's pixels on its texel."""
    x_tilde, mask = y.clone(), torch.zeros(texels.shape)
    for view in range(texels.shape[0]):
        for row in range(texels.shape[1]):
            for column in range(texels.shape[2]):
                texel = int(texels[view, row, column])
                if texel < 0:
                    continue
                hits = [y[:, earlier, :, r, c] for earlier in range(view) for r, c in (texels[earlier] == texel).nonzero()]
                if hits:
                    x_tilde[:, view, :, row, column] = torch.stack(hits).mean(0)
                    mask[view, row, column] = 1
    return x_tilde, mask.unsqueeze(1)


def test_syncsde_on_views_equals_the_explicit_update(sphere) -> None:
    """ε-form SyncSDE over the texel layout = DDIM(y, ε) + (γ_t/λ_t) M ⊙ (X̃ − y), X̃ baked from earlier views by loops."""
    texels = view_texels(sphere, ring_cameras(3, top_views=1), view_size=8, texture_size=8)
    layout = TexelLayout(texels, 64)
    denoiser, inv_lambda, steps = FixedMap(2 * 64), 5.0, 6
    conds = list(range(layout.num_windows))
    result = sample(denoiser, ddim(), layout, conds, latent_shape=(2,), strategy=SyncSDE(inv_lambda), steps=steps,
                    generator=torch.Generator().manual_seed(3), progress=False)

    scheduler = ddim()
    scheduler.set_timesteps(steps)
    alphas = scheduler.alphas_cumprod
    y = layout.initial(torch.randn((1, 2, *layout.canvas_dims), generator=torch.Generator().manual_seed(3)))
    first = float(scheduler.timesteps[0])
    for t in scheduler.timesteps:
        prev_t = t - scheduler.config.num_train_timesteps // steps
        alpha, alpha_prev = alphas[t], (alphas[prev_t] if prev_t >= 0 else scheduler.final_alpha_cumprod)
        eps = denoiser(y.flatten(0, 1), t.expand(y.shape[1]), conds).reshape(y.shape)
        x0 = (y - (1 - alpha).sqrt() * eps) / alpha.sqrt()
        plain = alpha_prev.sqrt() * x0 + (1 - alpha_prev).sqrt() * eps
        gamma = (alpha_prev / alpha).sqrt() - ((1 - alpha_prev) / (1 - alpha)).sqrt()
        x_tilde, mask = earlier_views_mean(y, texels)
        assert mask[0].sum() == 0 and mask[1:].sum() > 0
        y = plain + gamma * inv_lambda * float(t) / first * mask * (x_tilde - y)
    torch.testing.assert_close(result.windows, y, rtol=1e-4, atol=1e-4)
