"""Text descriptions of corpus clips: training paraphrases and held-out paraphrases, filled from the parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

WORDING_SPLITS = ("train", "heldout")

# Per action: (training templates, held-out templates). Slots are filled by _words from the clip's
# parameters, so a text never contradicts its motion (no "slowly" on a fast walk, no wrong hand).
TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "walk": (
        ("a person walks forward{pace}", "someone walks straight ahead{pace}", "a man walks forward{pace}",
         "the person takes a few steps forward{pace}", "a woman is walking forward{pace}",
         "a person strolls ahead{pace}", "someone goes for a short walk{pace}",
         "he walks forward{pace}", "the character walks ahead{pace}",
         "somebody takes steps forward{pace}", "a person walks in a straight line{pace}",
         "she ambles forward{pace}"),
        ("a figure steps forward{pace}", "an individual makes their way forward on foot{pace}"),
    ),
    "walk_backward": (
        ("a person walks backward{pace}", "someone walks backwards{pace}", "a man steps back several times{pace}",
         "the person moves backward step by step{pace}", "a woman walks in reverse{pace}",
         "he walks backward{pace}", "the character steps backwards{pace}",
         "somebody moves back on foot{pace}", "a person backs away{pace}",
         "she walks back the way she came{pace}"),
        ("a figure retreats by stepping back{pace}", "an individual backs up on foot{pace}"),
    ),
    "run": (
        ("a person runs forward{pace}", "someone jogs forward{pace}", "a man is running straight ahead{pace}",
         "the person runs a short distance{pace}", "a woman runs ahead{pace}", "someone is running forward{pace}",
         "he sprints forward{pace}", "the character runs ahead{pace}",
         "somebody dashes forward{pace}", "a person races ahead{pace}",
         "she is jogging straight ahead{pace}"),
        ("a figure takes off running{pace}", "an individual rushes forward on foot{pace}"),
    ),
    "side_step": (
        ("a person steps to the {dir}{count}", "someone side steps to the {dir}{count}",
         "a man shuffles sideways to the {dir}{count}", "the person moves sideways to their {dir}{count}",
         "a woman sidesteps {dir}{count}",
         "he steps sideways to the {dir}{count}", "the character moves to the {dir} without turning{count}",
         "somebody takes side steps to the {dir}{count}", "a person scoots to the {dir}{count}",
         "she steps laterally to the {dir}{count}"),
        ("a figure slides over to the {dir} with side steps{count}", "an individual shifts {dir}ward sideways{count}"),
    ),
    "turn": (
        ("a person turns to the {dir}{angle}", "someone turns {dir}{angle}", "a man turns to his {dir}{angle}",
         "the person rotates in place to the {dir}{angle}", "a woman turns her body to the {dir}{angle}",
         "he turns around to the {dir}{angle}", "the character faces {dir}{angle}",
         "somebody rotates to the {dir}{angle}", "a person changes direction, turning {dir}{angle}",
         "she twists her body {dir}{angle}"),
        ("a figure pivots on the spot toward the {dir}{angle}", "an individual swivels {dir}{angle}"),
    ),
    "walk_turn": (
        ("a person walks forward and turns {dir}", "someone walks in a curve to the {dir}",
         "a man walks and turns to his {dir}", "the person walks while turning {dir}",
         "a woman walks forward then veers {dir}",
         "he walks and curves to the {dir}", "the character walks forward, turning {dir}",
         "somebody walks around a corner to the {dir}", "a person walks in an arc to the {dir}",
         "she turns {dir} while walking"),
        ("a figure strolls along a path that bends {dir}", "an individual walks, curving toward the {dir}"),
    ),
    "spin": (
        ("a person spins around{turns}", "someone spins in a circle{turns}", "a man turns all the way around{turns}",
         "the person does a full turn to the {dir}{turns}", "a woman twirls around{turns}",
         "he spins around{turns}", "the character spins in place{turns}",
         "somebody pirouettes{turns}", "a person rotates all the way around in place{turns}",
         "she spins a full circle to the {dir}{turns}"),
        ("a figure rotates a complete circle on the spot{turns}", "an individual whirls around to the {dir}{turns}"),
    ),
    "march": (
        ("a person marches in place{pace}", "someone marches on the spot{pace}", "a man lifts his knees high in place{pace}",
         "the person stomps in place like a soldier{pace}", "a woman marches without moving forward{pace}",
         "he marches in place{pace}", "the character marches on the spot raising the knees{pace}",
         "somebody steps in place lifting the knees{pace}", "a person stomps on the spot{pace}",
         "she marches like a soldier without going anywhere{pace}"),
        ("a figure does high steps on the spot{pace}", "an individual parades in place raising the knees{pace}"),
    ),
    "jump_in_place": (
        ("a person jumps up{count}", "someone jumps in place{count}", "a man jumps straight up{count}",
         "the person hops up and down with both feet{count}", "a woman leaps on the spot{count}",
         "he jumps up and down{count}", "the character jumps on the spot{count}",
         "somebody hops with both feet together{count}", "a person leaps up vertically{count}",
         "she does a vertical jump{count}"),
        ("a figure springs into the air{count}", "an individual bounces up off the ground{count}"),
    ),
    "jump_forward": (
        ("a person jumps forward{count}", "someone leaps forward{count}", "a man does a long jump forward{count}",
         "the person jumps ahead with both feet{count}", "a woman jumps forward and lands{count}",
         "he jumps forward{count}", "the character leaps ahead{count}",
         "somebody does a broad jump{count}", "a person hops forward with both feet{count}",
         "she jumps a distance forward{count}"),
        ("a figure bounds forward{count}", "an individual springs ahead off both feet{count}"),
    ),
    "hop": (
        ("a person hops on the {leg} leg{count}", "someone hops on one foot{count}", "a man hops on his {leg} foot{count}",
         "the person jumps on one leg{count}", "a woman balances on the {leg} leg and hops{count}",
         "he hops on his {leg} leg{count}", "the character hops on one foot{count}",
         "somebody stands on one leg and hops{count}", "a person jumps repeatedly on the {leg} foot{count}",
         "she keeps one foot up and hops on the {leg} one{count}"),
        ("a figure bounces on a single {leg} leg{count}", "an individual balances on the {leg} foot and bounces{count}"),
    ),
    "squat": (
        ("a person squats down{count}", "someone does squats{count}", "a man bends his knees and squats{count}",
         "the person crouches down and stands up{count}", "a woman squats{count}",
         "he squats{count}", "the character does deep knee bends{count}",
         "somebody squats down and gets back up{count}", "a person sinks to a squat{count}",
         "she bends the knees and rises{count}"),
        ("a figure lowers into a squat and rises{count}", "an individual does a knee bend exercise{count}"),
    ),
    "sit_down": (
        ("a person sits down and stands back up", "someone sits down then gets up",
         "a man sits on a chair and stands up", "the person takes a seat and rises again",
         "a woman sits down for a moment and stands",
         "he sits down and stands up", "the character sits down, then stands",
         "somebody sits on a seat and gets up again", "a person sits down on a chair, then rises",
         "she takes a seat and stands back up"),
        ("a figure lowers onto a seat and gets back on their feet", "an individual perches briefly then stands"),
    ),
    "kneel": (
        ("a person kneels down on the {leg} knee", "someone goes down on one knee", "a man kneels and gets up",
         "the person drops to the {leg} knee and stands again", "a woman kneels on one knee",
         "he kneels on his {leg} knee", "the character kneels down and gets back up",
         "somebody drops down on one knee", "a person gets down on the {leg} knee and rises",
         "she bends down to kneel on one knee and stands"),
        ("a figure genuflects and rises", "an individual lowers onto the {leg} knee, then stands"),
    ),
    "kick": (
        ("a person kicks with the {leg} leg{count}", "someone kicks forward{count}", "a man kicks with his {leg} foot{count}",
         "the person does a {height} kick{count}", "a woman kicks her {leg} leg out{count}",
         "he kicks with his {leg} leg{count}", "the character kicks{count}",
         "somebody kicks the {leg} foot forward{count}", "a person does a {height} kick with the {leg} leg{count}",
         "she kicks out in front{count}"),
        ("a figure strikes forward with the {leg} foot{count}", "an individual lashes out with a {height} kick{count}"),
    ),
    "punch": (
        ("a person punches{hand}{count}", "someone throws punches{hand}{count}", "a man boxes{hand}{count}",
         "the person punches forward{hand}{count}", "a woman jabs{hand}{count}",
         "he punches{hand}{count}", "the character throws a punch{hand}{count}",
         "somebody punches straight ahead{hand}{count}", "a person jabs forward{hand}{count}",
         "she boxes, punching forward{hand}{count}"),
        ("a figure strikes the air with a fist{hand}{count}", "an individual spars, hitting forward{hand}{count}"),
    ),
    "wave": (
        ("a person waves{hand}", "someone waves hello{hand}", "a man waves goodbye{hand}",
         "the person raises a hand and waves{hand}", "a woman waves{hand}{count}",
         "he waves{hand}", "the character waves hi{hand}",
         "somebody waves at a friend{hand}", "a person lifts a hand and waves{hand}",
         "she waves back and forth{hand}"),
        ("a figure greets someone by waving{hand}", "an individual signals with a waving gesture{hand}"),
    ),
    "raise_arms": (
        ("a person raises both arms{way}", "someone lifts their arms{way}", "a man puts his arms up{way}",
         "the person holds both arms up{way}", "a woman raises her hands{way}",
         "he raises his arms{way}", "the character lifts both arms{way}",
         "somebody puts both hands up{way}", "a person raises the arms{way}",
         "she lifts both hands{way}"),
        ("a figure elevates both arms{way}", "an individual reaches both hands upward{way}"),
    ),
    "clap": (
        ("a person claps{count}", "someone claps their hands{count}", "a man applauds{count}",
         "the person claps hands together{count}", "a woman claps{count}",
         "he claps{count}", "the character claps the hands{count}",
         "somebody claps hands{count}", "a person applauds{count}",
         "she claps in front of the chest{count}"),
        ("a figure brings the palms together{count}", "an individual gives a round of applause{count}"),
    ),
    "stretch": (
        ("a person stretches the arms up", "someone stretches overhead", "a man stretches his arms above his head",
         "the person reaches up and stretches", "a woman does an overhead stretch",
         "he stretches his arms overhead", "the character stretches up high",
         "somebody reaches the arms up to stretch", "a person stretches tall with arms up",
         "she does a standing stretch"),
        ("a figure extends both arms skyward to loosen up", "an individual limbers up with arms overhead"),
    ),
    "bow": (
        ("a person bows{depth}", "someone bows forward{depth}", "a man takes a{size} bow",
         "the person bends forward{depth} at the waist and straightens up", "a woman bows{depth} and stands up again",
         "he bows{depth}", "the character bows{depth}",
         "somebody leans forward{depth} and comes back up", "a person bends{depth} at the hips in a bow",
         "she makes a{size} bow"),
        ("a figure inclines the torso{depth} in greeting", "an individual makes a{size} courteous bow"),
    ),
    "crawl": (
        ("a person crawls forward on hands and knees", "someone gets down and crawls",
         "a man crawls on all fours", "the person crawls forward", "a woman crawls on the floor",
         "he crawls forward", "the character crawls on all fours",
         "somebody crawls across the floor", "a person crawls on hands and knees",
         "she drops to all fours and crawls"),
        ("a figure creeps ahead on all fours", "an individual moves along the ground on hands and knees"),
    ),
    "idle": (
        ("a person stands still", "someone is standing in place", "a man stands and waits",
         "the person stands idle", "a woman stands relaxed",
         "he stands still", "the character stands in place",
         "somebody stands without moving", "a person stays standing",
         "she stands calmly and waits"),
        ("a figure remains upright without moving much", "an individual just waits on the spot"),
    ),
    "look_around": (
        ("a person looks around", "someone looks left and right", "a man turns his head to look around",
         "the person glances from side to side", "a woman looks around her",
         "he looks around", "the character looks to both sides",
         "somebody turns the head left and right", "a person looks around the room",
         "she glances around"),
        ("a figure scans the surroundings", "an individual checks both sides with a turn of the head"),
    ),
    "jumping_jacks": (
        ("a person does jumping jacks{count}", "someone does star jumps{count}",
         "a man jumps spreading his legs and raising his arms{count}", "the person does jumping jacks{pace}",
         "a woman performs jumping jacks{count}",
         "he does jumping jacks{count}", "the character does jumping jacks{pace}",
         "somebody jumps and spreads arms and legs{count}", "a person does star jumps{count}",
         "she jumps opening arms and legs{count}"),
        ("a figure exercises with jumping jacks{count}", "an individual hops feet apart and together, clapping overhead{count}"),
    ),
    "arm_circles": (
        ("a person circles the arms {dir}", "someone makes arm circles{count}", "a man rotates his arms in circles {dir}",
         "the person holds the arms out and circles them{count}", "a woman does {dir} arm circles",
         "he circles his arms {dir}", "the character makes circles with the arms{count}",
         "somebody rotates both arms in circles{count}", "a person circles both arms{count}",
         "she does arm circles {dir}"),
        ("a figure swings both outstretched arms around in loops", "an individual warms up the shoulders with arm rotations"),
    ),
    "sway": (
        ("a person sways side to side{pace}", "someone dances swaying their hips{pace}",
         "a man sways to the music{pace}", "the person dances in place{pace}", "a woman grooves side to side{pace}",
         "he sways side to side{pace}", "the character dances on the spot{pace}",
         "somebody sways the hips{pace}", "a person dances to music{pace}",
         "she moves the hips side to side{pace}"),
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
    if split not in WORDING_SPLITS:
        raise ValueError(f"unknown text split {split!r}; use one of {WORDING_SPLITS}")
    if action not in TEMPLATES:
        raise ValueError(f"unknown action {action!r}; known: {sorted(TEMPLATES)}")
    rng = np.random.default_rng(0)
    words = _words(action, params, rng)
    return [_fill(template, words) for template in TEMPLATES[action][WORDING_SPLITS.index(split)]]


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
    if split not in WORDING_SPLITS:
        raise ValueError(f"unknown text split {split!r}; use train, heldout or eval")
    return TEMPLATES[action][WORDING_SPLITS.index(split)]


def _fill(template: str, words: dict[str, str]) -> str:
    return " ".join(template.format(**words).split())
