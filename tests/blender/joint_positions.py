"""Run inside Blender: import motion files (.glb/.gltf/.bvh) and write the joints' world positions at given frames.

blender -b --factory-startup --python joint_positions.py -- OUT.json FPS FRAME,FRAME,... FILE [FILE ...]
OUT.json maps each file to {frame: {bone name: [x, y, z]}} in Blender's z-up world, metres.
"""

import builtins
import json
import sys

import bpy

out, fps, frames, *files = sys.argv[sys.argv.index("--") + 1:]
found = {}
for path in files:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps = int(fps)
    if path.endswith(".bvh"):
        import io_anim_bvh.import_bvh

        # Debian's Blender 3.4 runs on Python 3.11, which dropped open()'s "U" mode that its BVH importer still asks for.
        io_anim_bvh.import_bvh.open = lambda name, mode="r", *rest, **options: builtins.open(name, mode.replace("U", ""),
                                                                                             *rest, **options)
        bpy.ops.import_anim.bvh(filepath=path, global_scale=1.0, frame_start=1, use_fps_scale=False, rotate_mode="NATIVE")
        first = 1
    else:
        # Flat shading: Debian's Blender 3.4 importer fails on numpy >= 1.24 (np.bool) when it guesses smoothing from normals.
        bpy.ops.import_scene.gltf(filepath=path, import_shading="FLAT")
        first = 0  # the importer keys time t at frame t * fps
    armature = next(item for item in bpy.context.scene.objects if item.type == "ARMATURE")
    found[path] = {}
    for frame in map(int, frames.split(",")):
        bpy.context.scene.frame_set(first + frame)
        found[path][frame] = {bone.name: list(armature.matrix_world @ bone.head) for bone in armature.pose.bones}
with open(out, "w") as handle:
    json.dump(found, handle)
