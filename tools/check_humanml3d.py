"""Compare our joints -> features with HumanML3D's own files: new_joints/<id>.npy against new_joint_vecs/<id>.npy.

HumanML3D's new_joints are recovered from its features, so converting them back must give the features again.
The last ~60 frames may differ slightly: the clip that HumanML3D smoothed the heading over had one more frame.

    python tools/check_humanml3d.py PATH/TO/HumanML3D [--ids 000021 012314] [--limit 20]
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from syncmotion.motion.features import joints_to_features
from syncmotion_lab.benchdoc import markdown_table

GROUPS = {"root angular velocity": slice(0, 1), "root linear velocity": slice(1, 3), "root height": slice(3, 4),
          "joint positions (ric)": slice(4, 67), "6D rotations": slice(67, 193), "joint velocities": slice(193, 259),
          "foot contacts": slice(259, 263)}
END_FRAMES = 60


@click.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--ids", multiple=True, help="Clip ids (file stems); default: the first --limit clips in new_joints/.")
@click.option("--limit", default=20, show_default=True)
def main(root: Path, ids: tuple[str, ...], limit: int) -> None:
    """Print the largest difference per feature group, away from the clip ends and overall."""
    joints_dir, vecs_dir = root / "new_joints", root / "new_joint_vecs"
    for folder in (joints_dir, vecs_dir):
        if not folder.is_dir():
            raise click.UsageError(f"{folder} is missing; point at a HumanML3D folder with new_joints/ and new_joint_vecs/")
    names = list(ids) or sorted(path.stem for path in joints_dir.glob("*.npy"))[:limit]
    interior = {group: 0.0 for group in GROUPS}
    overall = dict(interior)
    for name in names:
        joints = np.load(joints_dir / f"{name}.npy").astype(np.float32)
        reference = np.load(vecs_dir / f"{name}.npy")
        ours = joints_to_features(joints)
        difference = np.abs(ours - reference[: len(ours)])
        for group, columns in GROUPS.items():
            overall[group] = max(overall[group], float(difference[:, columns].max()))
            if len(ours) > END_FRAMES:
                interior[group] = max(interior[group], float(difference[:-END_FRAMES, columns].max()))
    rows = [[group, f"{interior[group]:.1e}", f"{overall[group]:.1e}"] for group in GROUPS]
    click.echo(f"{len(names)} clips")
    click.echo(markdown_table(["features", f"max abs difference before the last {END_FRAMES} frames", "max abs difference overall"], rows))


if __name__ == "__main__":
    main()
