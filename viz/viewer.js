// syncmotion viewer: plays motion JSON exports (schema version 1) and glTF exports (.glb/.gltf), one panel per file,
// on one shared clock.
import * as THREE from "three";
import { OrbitControls } from "./vendor/OrbitControls.js";
import { GLTFLoader } from "./vendor/loaders/GLTFLoader.js";

const LIMB_COLOURS = [0xd62728, 0x1f77b4, 0x444444, 0xff7f0e, 0x17becf];
const CURVE_COLOURS = ["#333", "#1f77b4", "#2ca02c", "#9467bd"];
const SEGMENT_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
const $ = (id) => document.getElementById(id);
// The skeleton's joints and limbs, for glTF files whose scene has lost syncmotion's header (re-exported by another tool).
const JOINT_NAMES = ["pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
  "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head", "left_shoulder",
  "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist"];
const KINEMATIC_CHAIN = [[0, 2, 5, 8, 11], [0, 1, 4, 7, 10], [0, 3, 6, 9, 12, 15], [9, 14, 17, 19, 21], [9, 13, 16, 18, 20]];

// The shared clock counts frames at the first file's fps (state.fps); each panel shows, at the same time in
// seconds, its own frame at its own fps (ownFrame), and the timeline places every file by time (sharedFrame).
const state = { motions: [], panels: [], frame: 0, playing: false, speed: 1, fps: 20, numFrames: 0, clock: 0, last: null };

// What tests and scripts can read and drive.
window.syncmotionViewer = {
  ready: false, error: null, numFrames: 0, frame: 0, panelFrames: [], panelPoses: [], segments: [], motions: [],
  setFrame: (n) => setFrame(n), play: () => setPlaying(true), pause: () => setPlaying(false),
};

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
  window.syncmotionViewer.error = message;
}

// Checks a parsed document against the export schema; returns a problem or null.
function problemWith(doc) {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return "it is not a JSON object";
  if (doc.format !== "syncmotion.motion") return `its format is ${JSON.stringify(doc.format)}, not "syncmotion.motion"`;
  if (doc.version !== 1) return `it has format version ${doc.version}; this viewer reads version 1`;
  const p = doc.positions;
  if (!Array.isArray(p) || p.length === 0) return "it has no positions";
  const bad = badFrame(p);
  if (bad) return `positions must be [frames][22 joints][x, y, z] of finite numbers; the first bad frame is ` +
    `positions[${bad.frame}] (frame ${bad.frame + 1} of ${p.length}): ${bad.why}`;
  if (!(doc.fps === undefined || (Number.isFinite(doc.fps) && doc.fps > 0))) return `its fps is ${JSON.stringify(doc.fps)}, not a positive number`;
  if (!Array.isArray(doc.segments)) return "it has no segments list";
  if (!Array.isArray(doc.kinematic_chain)) return "it has no kinematic_chain";
  return null;
}

// The first frame of positions that is not 22 joints of 3 finite numbers, with what is wrong; null when all are good.
// Plain loops over every value (about 40,000 for 30 s at 20 fps): well under a millisecond.
function badFrame(positions) {
  for (let t = 0; t < positions.length; t++) {
    const frame = positions[t];
    if (!Array.isArray(frame)) return { frame: t, why: "it is not a list of joints" };
    if (frame.length !== 22) return { frame: t, why: `it has ${frame.length} joints, not 22` };
    for (let j = 0; j < 22; j++) {
      const joint = frame[j];
      if (!Array.isArray(joint) || joint.length !== 3) return { frame: t, why: `joint ${j} is not [x, y, z]` };
      for (let k = 0; k < 3; k++) {
        if (typeof joint[k] !== "number" || !Number.isFinite(joint[k]))
          return { frame: t, why: `joint ${j} has ${JSON.stringify(joint[k])} for ${"xyz"[k]}, not a finite number` };
      }
    }
  }
  return null;
}

// Jerk magnitude per frame: third finite difference, largest over joints, in m/s^3.
function jerkCurve(positions, fps) {
  const out = new Float32Array(positions.length);
  for (let t = 0; t + 3 < positions.length; t++) {
    let worst = 0;
    for (let j = 0; j < 22; j++) {
      let sum = 0;
      for (let k = 0; k < 3; k++) {
        const d = positions[t + 3][j][k] - 3 * positions[t + 2][j][k] + 3 * positions[t + 1][j][k] - positions[t][j][k];
        sum += d * d;
      }
      worst = Math.max(worst, Math.sqrt(sum));
    }
    out[t + 1] = worst * fps * fps * fps;
  }
  return out;
}

function makeScene(container, motion) {
  let renderer;
  try {
    renderer = new THREE.WebGLRenderer({ antialias: true });
  } catch (error) {
    const note = document.createElement("div");
    note.className = "nogl";
    note.textContent = "3D view unavailable: this browser has no WebGL. Timeline and labels still work.";
    container.appendChild(note);
    return null;
  }
  renderer.setPixelRatio(window.devicePixelRatio || 1);
  container.appendChild(renderer.domElement);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0xffffff);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x888888, 2.2));
  const sun = new THREE.DirectionalLight(0xffffff, 1.5);
  sun.position.set(3, 6, 4);
  scene.add(sun);
  const floor = new THREE.Mesh(new THREE.PlaneGeometry(200, 200), new THREE.MeshStandardMaterial({ color: 0xeeeeea, roughness: 1 }));
  floor.rotation.x = -Math.PI / 2;
  floor.position.y = -0.002;
  scene.add(floor);
  // A small grid that follows the body (snapped to its cells) reads better than a huge one, and short
  // lines stay clear of the camera's near plane.
  const grid = new THREE.GridHelper(10, 20, 0x888888, 0xa8a8a8);
  scene.add(grid);
  const camera = new THREE.PerspectiveCamera(40, 1, 0.05, 200);
  camera.position.set(3.2, 2.4, 4.6);
  const controls = new OrbitControls(camera, renderer.domElement);
  controls.target.set(0, 0.9, 0);
  controls.update();

  const bones = [];
  motion.doc.kinematic_chain.forEach((chain, limb) => {
    const material = new THREE.MeshStandardMaterial({ color: LIMB_COLOURS[limb % LIMB_COLOURS.length], roughness: 0.6 });
    for (let i = 0; i + 1 < chain.length; i++) {
      const mesh = new THREE.Mesh(new THREE.CylinderGeometry(0.022, 0.022, 1, 10), material);
      scene.add(mesh);
      bones.push({ mesh, a: chain[i], b: chain[i + 1] });
    }
  });
  const head = new THREE.Mesh(new THREE.SphereGeometry(0.09, 16, 12), new THREE.MeshStandardMaterial({ color: 0x444444 }));
  scene.add(head);
  const trailGeometry = new THREE.BufferGeometry();
  const trailPoints = new Float32Array(motion.doc.positions.length * 3);
  motion.doc.positions.forEach((frame, t) => trailPoints.set([frame[0][0], 0.003, frame[0][2]], 3 * t));
  trailGeometry.setAttribute("position", new THREE.BufferAttribute(trailPoints, 3));
  const trail = new THREE.Line(trailGeometry, new THREE.LineBasicMaterial({ color: 0x888888 }));
  scene.add(trail);
  return { renderer, scene, camera, controls, bones, head, trail, grid, lastRoot: null };
}

// A motion's own frame at shared frame `frame` (same time in seconds), held at its last frame once it has ended.
function ownFrame(motion, frame) {
  return Math.max(0, Math.min(motion.doc.positions.length - 1, Math.floor((frame / state.fps) * motion.fps + 1e-6)));
}

// Where a motion's own frame `t` falls on the shared timeline, in shared frames (may be fractional).
function sharedFrame(motion, t) {
  return (t * state.fps) / motion.fps;
}

const up = new THREE.Vector3(0, 1, 0);
// Poses a panel at its own frame `frame`.
function pose(view, frame) {
  const positions = view.motion.doc.positions;
  const p = positions[frame];
  const g = view.gl;
  if (!g) return;
  for (const { mesh, a, b } of g.bones) {
    const start = new THREE.Vector3(...p[a]);
    const end = new THREE.Vector3(...p[b]);
    const along = end.clone().sub(start);
    const length = Math.max(along.length(), 1e-6);
    mesh.position.copy(start).addScaledVector(along, 0.5);
    mesh.scale.set(1, length, 1);
    mesh.quaternion.setFromUnitVectors(up, along.divideScalar(length));
  }
  g.head.position.set(...p[15]);
  g.grid.position.set(Math.round(p[0][0] * 2) / 2, 0, Math.round(p[0][2] * 2) / 2);
  g.trail.geometry.setDrawRange(0, frame + 1);
  // The camera keeps its angle to the body and follows the root.
  const root = new THREE.Vector3(p[0][0], 0.9, p[0][2]);
  if (g.lastRoot) {
    const shift = root.clone().sub(g.lastRoot);
    g.camera.position.add(shift);
    g.controls.target.add(shift);
    g.controls.update();
  } else {
    g.controls.target.copy(root);
    g.camera.position.set(root.x + 3.2, 2.4, root.z + 4.6);
    g.controls.update();
  }
  g.lastRoot = root;
}

function segmentAt(motion, frame) {
  const index = motion.doc.segments.findIndex((s) => s.start <= frame && frame < s.end);
  return index < 0 ? { index, text: "" } : { index, text: motion.doc.segments[index].text };
}

// A file's name and, when it says, the strategy that made it.
function panelName(motion) {
  return motion.name + (motion.doc.meta && motion.doc.meta.strategy ? ` · ${motion.doc.meta.strategy}` : "");
}

function buildPanels() {
  const panels = $("panels");
  panels.innerHTML = "";
  state.panels = state.motions.map((motion) => {
    const container = document.createElement("div");
    container.className = "panel";
    const title = document.createElement("div");
    title.className = "title";
    const fps = motion.fps !== state.fps ? ` · ${motion.fps} fps` : "";
    title.textContent = panelName(motion) + fps;
    const caption = document.createElement("div");
    caption.className = "caption";
    container.append(title, caption);
    panels.appendChild(container);
    return { container, caption, motion, gl: makeScene(container, motion) };
  });
  resize();
}

// A timeline's tracks (meta.tracks) overlap: they are stacked in lanes, tracks that do not overlap sharing one, and
// each band is labelled with the body parts its track moves.
function trackLanes(tracks) {
  const lanes = [];
  tracks.map((track, index) => ({ ...track, index })).sort((a, b) => a.start - b.start).forEach((track) => {
    let lane = lanes.find((l) => l[l.length - 1].end <= track.start);
    if (!lane) lanes.push((lane = []));
    lane.push(track);
  });
  return lanes;
}

function bandRows(motion) {
  const tracks = motion.doc.meta && Array.isArray(motion.doc.meta.tracks) ? motion.doc.meta.tracks : null;
  if (!tracks) return [motion.doc.segments.map((segment, index) => ({ ...segment, index, label: segment.text }))];
  return trackLanes(tracks).map((lane) => lane.map((track) => ({
    ...track, label: `${track.text} · ${track.whole_body ? "whole body" : track.parts.join(", ")}` })));
}

function buildBands() {
  const bands = $("bands");
  bands.innerHTML = "";
  for (const motion of state.motions) {
    for (const lane of bandRows(motion)) {
      const row = document.createElement("div");
      row.className = "band-row";
      lane.forEach((segment) => {
        const band = document.createElement("div");
        band.className = "band";
        band.style.left = `${(100 * sharedFrame(motion, segment.start)) / state.numFrames}%`;
        band.style.width = `${(100 * sharedFrame(motion, segment.end - segment.start)) / state.numFrames}%`;
        band.style.background = SEGMENT_COLOURS[segment.index % SEGMENT_COLOURS.length];
        band.textContent = segment.label;
        band.title = `${segment.label} (frames ${segment.start}–${segment.end - 1})`;
        band.addEventListener("click", () => setFrame(segment.start));
        row.appendChild(band);
      });
      bands.appendChild(row);
    }
  }
}

function drawJerk() {
  const canvas = $("jerk");
  const width = (canvas.width = canvas.clientWidth * (window.devicePixelRatio || 1));
  const height = canvas.height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, width, height);
  const all = state.motions.flatMap((m) => Array.from(m.jerk));
  const sorted = all.slice().sort((a, b) => a - b);
  const top = Math.max(sorted[Math.floor(0.995 * (sorted.length - 1))] || 1, 1e-6);
  // Shared frame -> x, on the same scale as the bands above.
  const x = (frame) => (frame / Math.max(state.numFrames, 1)) * width;
  ctx.strokeStyle = "#d62728";
  ctx.setLineDash([3, 3]);
  for (const motion of state.motions) {
    for (const seam of motion.doc.seams || []) {
      ctx.beginPath();
      ctx.moveTo(x(sharedFrame(motion, seam)), 0);
      ctx.lineTo(x(sharedFrame(motion, seam)), height);
      ctx.stroke();
    }
  }
  ctx.setLineDash([]);
  state.motions.forEach((motion, i) => {
    ctx.strokeStyle = CURVE_COLOURS[i % CURVE_COLOURS.length];
    ctx.beginPath();
    motion.jerk.forEach((value, t) => {
      const y = height - 4 - (Math.min(value, top) / top) * (height - 10);
      t === 0 ? ctx.moveTo(x(sharedFrame(motion, t)), y) : ctx.lineTo(x(sharedFrame(motion, t)), y);
    });
    ctx.stroke();
  });
  // The key goes over the curves on a light box, so the curves do not hide it; one colour per file when several.
  ctx.font = "11px system-ui, sans-serif";
  const key = [{ text: `jerk (max over joints, up to ${top.toFixed(0)} m/s³) · dashed: seams`, colour: "#555" }];
  if (state.motions.length > 1)
    state.motions.forEach((motion, i) => key.push({ text: `— ${panelName(motion)}`, colour: CURVE_COLOURS[i % CURVE_COLOURS.length] }));
  let left = 6;
  const widths = key.map(({ text }) => ctx.measureText(text).width);
  ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
  ctx.fillRect(2, 1, widths.reduce((a, b) => a + b + 10, 0) + 2, 15);
  key.forEach(({ text, colour }, i) => {
    ctx.fillStyle = colour;
    ctx.fillText(text, left, 12);
    left += widths[i] + 10;
  });
  ctx.strokeStyle = "#000";
  ctx.beginPath();
  ctx.moveTo(x(state.frame), 0);
  ctx.lineTo(x(state.frame), height);
  ctx.stroke();
}

function setFrame(n) {
  const frame = Math.max(0, Math.min(state.numFrames - 1, Math.round(Number(n) || 0)));
  state.frame = frame;
  state.clock = frame;
  $("scrubber").value = String(frame);
  $("frame-label").textContent = `frame ${frame + 1} / ${state.numFrames} · ${(frame / state.fps).toFixed(2)} s`;
  const first = state.motions[0] ? segmentAt(state.motions[0], ownFrame(state.motions[0], frame)) : { index: -1, text: "" };
  $("segment-label").textContent = first.text;
  $("segment-label").style.color = first.index >= 0 ? SEGMENT_COLOURS[first.index % SEGMENT_COLOURS.length] : "#222";
  const panelFrames = state.panels.map((view) => {
    const own = ownFrame(view.motion, frame);
    pose(view, own);
    const current = segmentAt(view.motion, own);
    view.caption.textContent = current.text;
    view.caption.style.color = current.index >= 0 ? SEGMENT_COLOURS[current.index % SEGMENT_COLOURS.length] : "#222";
    return own;
  });
  window.syncmotionViewer.frame = frame;
  window.syncmotionViewer.panelFrames = panelFrames;
  // The joints each panel's figure is drawn from now: [22][x, y, z].
  window.syncmotionViewer.panelPoses = state.panels.map((view, i) => view.motion.doc.positions[panelFrames[i]]);
  drawJerk();
  render();
}

function render() {
  for (const view of state.panels) if (view.gl) view.gl.renderer.render(view.gl.scene, view.gl.camera);
}

function resize() {
  for (const view of state.panels) {
    if (!view.gl) continue;
    const { clientWidth: w, clientHeight: h } = view.container;
    view.gl.renderer.setSize(w, h, false);
    view.gl.camera.aspect = w / Math.max(h, 1);
    view.gl.camera.updateProjectionMatrix();
  }
  if (state.motions.length) drawJerk();
  render();
}

function setPlaying(playing) {
  state.playing = playing && state.numFrames > 0;
  $("play").textContent = state.playing ? "❚❚" : "▶";
  state.last = null;
}

function tick(now) {
  if (state.playing) {
    if (state.last !== null) {
      state.clock += ((now - state.last) / 1000) * state.fps * state.speed;
      if (state.clock >= state.numFrames) state.clock = 0;
      if (Math.floor(state.clock) !== state.frame) {
        const clock = state.clock;
        setFrame(Math.floor(clock));
        state.clock = clock;
      }
    }
    state.last = now;
  }
  for (const view of state.panels) if (view.gl) view.gl.controls.update();
  render();
  requestAnimationFrame(tick);
}

function show(loaded) {
  $("error").hidden = true;
  window.syncmotionViewer.error = null;
  state.motions = loaded.map(({ name, doc }) => ({ name, doc, fps: doc.fps || 20, jerk: jerkCurve(doc.positions, doc.fps || 20) }));
  state.fps = state.motions[0].fps;
  // Enough shared frames to reach every file's last frame.
  state.numFrames = Math.max(...state.motions.map((m) => Math.ceil(sharedFrame(m, m.doc.positions.length - 1) - 1e-6) + 1));
  $("scrubber").max = String(state.numFrames - 1);
  buildPanels();
  buildBands();
  setFrame(0);
  Object.assign(window.syncmotionViewer, {
    ready: true, numFrames: state.numFrames,
    segments: state.motions[0].doc.segments.map((s) => s.text),
    motions: state.motions.map((m) => ({ name: m.name, fps: m.fps, numFrames: m.doc.positions.length, segments: m.doc.segments.map((s) => s.text) })),
  });
}

// A motion document like the JSON export's from a glTF's bytes: the joints' world positions at each key of its first
// animation, posed by three.js's AnimationMixer, with segments, seams and meta from syncmotion's header in the
// scene's extras.
async function gltfDocument(bytes) {
  const gltf = await new GLTFLoader().parseAsync(bytes, "");
  const header = gltf.scene.userData.syncmotion || {};
  const names = header.joint_names || JOINT_NAMES;
  const joints = names.map((name) => gltf.scene.getObjectByName(name));
  const missing = names.filter((name, j) => !joints[j]);
  if (missing.length) throw new Error(`it has no node named ${missing.slice(0, 3).join(", ")}`);
  const clip = gltf.animations[0];
  const times = clip && clip.tracks.length ? Array.from(clip.tracks[0].times) : [0];
  const mixer = new THREE.AnimationMixer(gltf.scene);
  const action = clip ? mixer.clipAction(clip).setLoop(THREE.LoopOnce) : null;
  // At its last key a LoopOnce action finishes; clamped, it holds that pose instead of letting go of the skeleton.
  if (action) action.clampWhenFinished = true;
  const where = new THREE.Vector3();
  const positions = times.map((time) => {
    if (action) {
      // From the start each time: a LoopOnce action that reached its end would stay paused there.
      action.reset().play();
      mixer.setTime(time);
    }
    gltf.scene.updateMatrixWorld(true);
    return joints.map((joint) => joint.getWorldPosition(where).toArray());
  });
  const fps = header.fps || (times.length > 1 ? 1 / (times[1] - times[0]) : 20);
  return {
    format: "syncmotion.motion", version: 1, fps, num_frames: positions.length, joint_names: names,
    kinematic_chain: header.kinematic_chain || KINEMATIC_CHAIN, positions,
    segments: header.segments || [], seams: header.seams || [], meta: header.meta || {},
  };
}

// Reads one fetched or dropped file (a Response or a File): glTF by its suffix, else JSON; returns { name, doc } or
// { name, problem }.
async function readSource(name, body) {
  if (/\.(glb|gltf)$/i.test(name)) {
    try {
      return { name, doc: await gltfDocument(await body.arrayBuffer()) };
    } catch (error) {
      return { name, problem: `${name} is not a glTF motion (${error.message || error}). Open a .glb written by syncmotion.` };
    }
  }
  const text = await body.text();
  try {
    return { name, doc: JSON.parse(text) };
  } catch (error) {
    return { name, problem: `${name} is not JSON (${error.message}). Open a motion.json written by syncmotion.` };
  }
}

// Checks read files; shows every problem, or the motions when all are good.
function load(sources) {
  const loaded = [];
  const problems = [];
  for (const { name, doc, problem: unreadable } of sources) {
    if (unreadable) {
      problems.push(unreadable);
      continue;
    }
    const problem = problemWith(doc);
    if (problem) problems.push(`${name} is not a syncmotion motion: ${problem}.`);
    else loaded.push({ name, doc });
  }
  if (problems.length) {
    showError(problems.join("\n"));
    window.syncmotionViewer.ready = true;
    return;
  }
  if (loaded.length) show(loaded);
}

async function loadUrls(urls) {
  const sources = [];
  for (const url of urls) {
    const name = decodeURIComponent(url.split("/").pop() || url);
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      sources.push(await readSource(name, response));
    } catch (error) {
      showError(`Could not load ${url}: ${error.message}.`);
      window.syncmotionViewer.ready = true;
      return;
    }
  }
  load(sources);
}

async function loadFiles(files) {
  load(await Promise.all(Array.from(files).map((file) => readSource(file.name, file))));
}

$("file-input").addEventListener("change", (event) => loadFiles(event.target.files));
$("scrubber").addEventListener("input", (event) => setFrame(event.target.value));
$("play").addEventListener("click", () => setPlaying(!state.playing));
$("speed").addEventListener("change", (event) => { state.speed = Number(event.target.value); });
document.addEventListener("keydown", (event) => {
  if (event.code === "Space" && event.target.tagName !== "SELECT") { event.preventDefault(); setPlaying(!state.playing); }
  if (event.code === "ArrowRight") setFrame(state.frame + 1);
  if (event.code === "ArrowLeft") setFrame(state.frame - 1);
});
document.addEventListener("dragover", (event) => { event.preventDefault(); document.body.classList.add("dragging"); });
document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
document.addEventListener("drop", (event) => {
  event.preventDefault();
  document.body.classList.remove("dragging");
  if (event.dataTransfer.files.length) loadFiles(event.dataTransfer.files);
});
window.addEventListener("resize", resize);

const sources = new URLSearchParams(window.location.search).getAll("src");
if (sources.length) loadUrls(sources);
else window.syncmotionViewer.ready = true;
requestAnimationFrame(tick);
