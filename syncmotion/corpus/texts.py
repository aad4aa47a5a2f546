"""Text descriptions of corpus clips: training paraphrases and held-out paraphrases, filled from the parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

SPLITS = ("train", "heldout")

# Per action: (training templates, held-out templates). Slots are filled by _words from the clip's
# parameters, so a text never contradicts its motion (no "slowly" on a fast walk, no wrong hand).
TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "walk": (
        ("a person walks forward{pace}", "someone walks straight ahead{pace}", "a man walks forward{pace}",
         "the person takes a few steps forward{pace}", "a woman is walking forward{pace}",
         "a person strolls ahead{pace}", "someone goes for a short walk{pace}"),
        ("a figure steps forward{pace}", "an individual makes their way forward on foot{pace}"),
    ),
    "walk_backward": (
        ("a person walks backward{pace}", "someone walks backwards{pace}", "a man steps back several times{pace}",
         "the person moves backward step by step{pace}", "a woman walks in reverse{pace}"),
        ("a figure retreats by stepping back{pace}", "an individual backs up on foot{pace}"),
    ),
    "run": (
        ("a person runs forward{pace}", "someone jogs forward{pace}", "a man is running straight ahead{pace}",
         "the person runs a short distance{pace}", "a woman runs ahead{pace}", "someone is running forward{pace}"),
        ("a figure takes off running{pace}", "an individual rushes forward on foot{pace}"),
    ),
    "side_step": (
        ("a person steps to the {dir}{count}", "someone side steps to the {dir}{count}",
         "a man shuffles sideways to the {dir}{count}", "the person moves sideways to their {dir}{count}",
         "a woman sidesteps {dir}{count}"),
        ("a figure slides over to the {dir} with side steps{count}", "an individual shifts {dir}ward sideways{count}"),
    ),
    "turn": (
        ("a person turns to the {dir}{angle}", "someone turns {dir}{angle}", "a man turns to his {dir}{angle}",
         "the person rotates in place to the {dir}{angle}", "a woman turns her body to the {dir}{angle}"),
        ("a figure pivots on the spot toward the {dir}{angle}", "an individual swivels {dir}{angle}"),
    ),
    "walk_turn": (
        ("a person walks forward and turns {dir}", "someone walks in a curve to the {dir}",
         "a man walks and turns to his {dir}", "the person walks while turning {dir}",
         "a woman walks forward then veers {dir}"),
        ("a figure strolls along a path that bends {dir}", "an individual walks, curving toward the {dir}"),
    ),
    "spin": (
        ("a person spins around{turns}", "someone spins in a circle{turns}", "a man turns all the way around{turns}",
         "the person does a full turn to the {dir}{turns}", "a woman twirls around{turns}"),
        ("a figure rotates a complete circle on the spot{turns}", "an individual whirls around to the {dir}{turns}"),
    ),
    "march": (
        ("a person marches in place{pace}", "someone marches on the spot{pace}", "a man lifts his knees high in place{pace}",
         "the person stomps in place like a soldier{pace}", "a woman marches without moving forward{pace}"),
        ("a figure does high steps on the spot{pace}", "an individual parades in place raising the knees{pace}"),
    ),
    "jump_in_place": (
        ("a person jumps up{count}", "someone jumps in place{count}", "a man jumps straight up{count}",
         "the person hops up and down with both feet{count}", "a woman leaps on the spot{count}"),
        ("a figure springs into the air{count}", "an individual bounces up off the ground{count}"),
    ),
    "jump_forward": (
        ("a person jumps forward{count}", "someone leaps forward{count}", "a man does a long jump forward{count}",
         "the person jumps ahead with both feet{count}", "a woman jumps forward and lands{count}"),
        ("a figure bounds forward{count}", "an individual springs ahead off both feet{count}"),
    ),
    "hop": (
        ("a person hops on the {leg} leg{count}", "someone hops on one foot{count}", "a man hops on his {leg} foot{count}",
         "the person jumps on one leg{count}", "a woman balances on the {leg} leg and hops{count}"),
        ("a figure bounces on a single {leg} leg{count}", "an individual balances on the {leg} foot and bounces{count}"),
    ),
    "squat": (
        ("a person squats down{count}", "someone does squats{count}", "a man bends his knees and squats{count}",
         "the person crouches down and stands up{count}", "a woman squats{count}"),
        ("a figure lowers into a squat and rises{count}", "an individual does a knee bend exercise{count}"),
    ),
    "sit_down": (
        ("a person sits down and stands back up", "someone sits down then gets up",
         "a man sits on a chair and stands up", "the person takes a seat and rises again",
         "a woman sits down for a moment and stands"),
        ("a figure lowers onto a seat and gets back on their feet", "an individual perches briefly then stands"),
    ),
    "kneel": (
        ("a person kneels down on the {leg} knee", "someone goes down on one knee", "a man kneels and gets up",
         "the person drops to the {leg} knee and stands again", "a woman kneels on one knee"),
        ("a figure genuflects and rises", "an individual lowers onto the {leg} knee, then stands"),
    ),
    "kick": (
        ("a person kicks with the {leg} leg{count}", "someone kicks forward{count}", "a man kicks with his {leg} foot{count}",
         "the person does a {height} kick{count}", "a woman kicks her {leg} leg out{count}"),
        ("a figure strikes forward with the {leg} foot{count}", "an individual lashes out with a {height} kick{count}"),
    ),
    "punch": (
        ("a person punches{hand}{count}", "someone throws punches{hand}{count}", "a man boxes{hand}{count}",
         "the person punches forward{hand}{count}", "a woman jabs{hand}{count}"),
        ("a figure strikes the air with a fist{hand}{count}", "an individual spars, hitting forward{hand}{count}"),
    ),
    "wave": (
        ("a person waves{hand}", "someone waves hello{hand}", "a man waves goodbye{hand}",
         "the person raises a hand and waves{hand}", "a woman waves{hand}{count}"),
        ("a figure greets someone by waving{hand}", "an individual signals with a waving gesture{hand}"),
    ),
    "raise_arms": (
        ("a person raises both arms{way}", "someone lifts their arms{way}", "a man puts his arms up{way}",
         "the person holds both arms up{way}", "a woman raises her hands{way}"),
        ("a figure elevates both arms{way}", "an individual reaches both hands upward{way}"),
    ),
    "clap": (
        ("a person claps{count}", "someone claps their hands{count}", "a man applauds{count}",
         "the person claps hands together{count}", "a woman claps{count}"),
        ("a figure brings the palms together{count}", "an individual gives a round of applause{count}"),
    ),
    "stretch": (
        ("a person stretches the arms up", "someone stretches overhead", "a man stretches his arms above his head",
         "the person reaches up and stretches", "a woman does an overhead stretch"),
        ("a figure extends both arms skyward to loosen up", "an individual limbers up with arms overhead"),
    ),
    "bow": (
        ("a person bows{depth}", "someone bows forward{depth}", "a man takes a{size} bow",
         "the person bends forward{depth} at the waist and straightens up", "a woman bows{depth} and stands up again"),
        ("a figure inclines the torso{depth} in greeting", "an individual makes a{size} courteous bow"),
    ),
    "crawl": (
        ("a person crawls forward on hands and knees", "someone gets down and crawls",
         "a man crawls on all fours", "the person crawls forward", "a woman crawls on the floor"),
        ("a figure creeps ahead on all fours", "an individual moves along the ground on hands and knees"),
    ),
    "idle": (
        ("a person stands still", "someone is standing in place", "a man stands and waits",
         "the person stands idle", "a woman stands relaxed"),
        ("a figure remains upright without moving much", "an individual just waits on the spot"),
    ),
    "look_around": (
        ("a person looks around", "someone looks left and right", "a man turns his head to look around",
         "the person glances from side to side", "a woman looks around her"),
        ("a figure scans the surroundings", "an individual checks both sides with a turn of the head"),
    ),
    "jumping_jacks": (
        ("a person does jumping jacks{count}", "someone does star jumps{count}",
         "a man jumps spreading his legs and raising his arms{count}", "the person does jumping jacks{pace}",
         "a woman performs jumping jacks{count}"),
        ("a figure exercises with jumping jacks{count}", "an individual hops feet apart and together, clapping overhead{count}"),
    ),
    "arm_circles": (
        ("a person circles the arms {dir}", "someone makes arm circles{count}", "a man rotates his arms in circles {dir}",
         "the person holds the arms out and circles them{count}", "a woman does {dir} arm circles"),
        ("a figure swings both outstretched arms around in loops", "an individual warms up the shoulders with arm rotations"),
    ),
    "sway": (
        ("a person sways side to side{pace}", "someone dances swaying their hips{pace}",
         "a man sways to the music{pace}", "the person dances in place{pace}", "a woman grooves side to side{pace}"),
        ("a figure rocks from one side to the other to a beat{pace}", "an individual moves rhythmically on the spot{pace}"),
    ),
}

_COUNTS = {1: ("once", "one time"), 2: ("twice", "two times"), 3: ("three times",), 4: ("four times",),
           5: ("five times",), 6: ("six times",), 7: ("seven times",), 8: ("eight times",)}


def _pace(value: float, low: float, high: float, rng: np.random.Generator,
          slow: tuple[str, ...] = ("slowly", "at a slow pace", "leisurely"),
          fast: tuple[str, ...] = ("quickly", "fast", "at a brisk pace")) -> str:
    """An adverb for a speed or tempo: slow below `low`, fast above `high`, often none in between."""
    if value < low:
        return " " + str(rng.choice(slow))
    if value > high:
        return " " + str(rng.choice(fast))
    return "" if rng.random() < 0.7 else " " + str(rng.choice(["steadily", "at a normal pace"]))


def _words(action: str, p: dict[str, Any], rng: np.random.Generator) -> dict[str, str]:
    """Slot words consistent with the parameters (unused slots are harmless)."""
    words: dict[str, str] = {"pace": "", "count": "", "dir": "", "hand": "", "leg": "", "angle": "",
                             "turns": "", "way": "", "depth": "", "size": "", "height": ""}
    if "count" in p:
        say = rng.random() < 0.8 or p["count"] > 1
        words["count"] = " " + str(rng.choice(_COUNTS[p["count"]])) if say and p["count"] in _COUNTS else ""
    for key in ("direction", "first"):
        if key in p:
            words["dir"] = p[key]
    for key in ("hand",):
        if key in p:
            words["hand"] = {"left": " with the left hand", "right": " with the right hand",
                             "both": " with both hands"}[p[key]]
    for key in ("leg", "knee"):
        if key in p:
            words["leg"] = p[key]
    if action in ("walk", "walk_backward"):
        words["pace"] = _pace(p["speed"], 0.9 if action == "walk" else 0.55, 1.3 if action == "walk" else 0.8, rng)
    if action == "run":
        words["pace"] = _pace(p["speed"], 2.2, 2.8, rng, ("slowly", "at an easy pace", "at a gentle jog"),
                              ("fast", "at full speed", "quickly"))
    if action == "jumping_jacks":
        words["pace"] = _pace(p["tempo"], 0.9, 1.2, rng)
    if action in ("march", "sway"):
        words["pace"] = _pace(p["tempo"], 1.6 if action == "march" else 1.0, 2.0 if action == "march" else 1.4, rng)
    if action == "turn":
        if p["angle"] < 75:
            words["angle"] = " a little"
        elif p["angle"] < 115:
            words["angle"] = str(rng.choice([" a quarter turn", " by 90 degrees", ""]))
        elif p["angle"] > 160:
            words["angle"] = str(rng.choice([" to face the other way", " 180 degrees", " all the way around"]))
    if action == "spin":
        words["turns"] = " twice" if p["turns"] == 2 else ""
    if action == "raise_arms":
        words["way"] = " out to the sides" if p["way"] == "sides" else (" above the head" if p["height"] > 2.4 else " in front")
    if action == "bow":
        words["depth"] = " deeply" if p["depth"] > 0.85 else (" slightly" if p["depth"] < 0.55 else "")
        words["size"] = " deep" if p["depth"] > 0.85 else (" small" if p["depth"] < 0.55 else "")
    if action == "kick":
        words["height"] = "high" if p["height"] > 0.65 else "low"
    if action == "wave" and p["hand"] == "both":
        words["count"] = ""
    return words


def texts(action: str, params: dict[str, Any], split: str = "train") -> list[str]:
    """Every paraphrase of the split ("train" or "heldout") for the action, with neutral slot words."""
    if split not in SPLITS:
        raise ValueError(f"unknown text split {split!r}; use one of {SPLITS}")
    if action not in TEMPLATES:
        raise ValueError(f"unknown action {action!r}; known: {sorted(TEMPLATES)}")
    rng = np.random.default_rng(0)
    words = _words(action, params, rng)
    return [_fill(template, words) for template in TEMPLATES[action][SPLITS.index(split)]]


def describe(action: str, params: dict[str, Any], split: str, rng: np.random.Generator) -> str:
    """One random paraphrase of the split for a clip, its slot words drawn to match the parameters."""
    pool = _templates(action, split)
    return paraphrase(action, int(rng.integers(len(pool))), params, split, rng)


def paraphrase(action: str, template: int, params: dict[str, Any], split: str, rng: np.random.Generator) -> str:
    """The split's `template`-th paraphrase of the action, its slot words drawn to match the parameters."""
    return _fill(_templates(action, split)[template], _words(action, params, rng))


def _templates(action: str, split: str) -> tuple[str, ...]:
    if split == "eval":
        return TEMPLATES[action][0] + TEMPLATES[action][1]
    if split not in SPLITS:
        raise ValueError(f"unknown text split {split!r}; use train, heldout or eval")
    return TEMPLATES[action][SPLITS.index(split)]


def _fill(template: str, words: dict[str, str]) -> str:
    return " ".join(template.format(**words).split())
