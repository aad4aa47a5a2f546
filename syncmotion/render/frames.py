"""Video frames drawn fast, looking as when matplotlib draws the whole figure.

A FramePainter keeps one figure. Each frame it restores the saved empty background (blitting), draws only the
artists that move, and pastes the texts from stamps: laying out and rasterising the caption and the clock took
three quarters of a frame's time. A stamp is a text's coverage, rendered once and blended by Agg's draw_image,
which blends it as Agg blends glyphs. Captions change only between segments, so each is rendered once. The clock
changes every frame, but its digits are tabular and its fields padded with figure spaces (Scene.clock_text): every
clock string of a motion has one pattern of digit slots ("00.00 s   frame 000/600") and every glyph at the same
place, so their stamps are put together from renders of each digit (or blank) in each slot (_ClockStamps).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.text import Text

from syncmotion.motion.types import Motion

from .scene import FIGURE_SPACE as PADDING
from .scene import Scene, segment_colour

FIGURE_SPACE = PADDING  # what a blank slot renders as (a test makes it a wider, inked character)
_SLOT = re.compile(f"[0-9{PADDING}]")  # a digit, or the padding before a number
RGB = tuple[int, int, int]


def _rgb(colour: str) -> RGB:
    """A matplotlib colour as Agg stores it: RGB, 0-255."""
    red, green, blue = (int(channel * 255 + 0.5) for channel in to_rgb(colour))
    return red, green, blue


class Stamp:
    """A text's coverage (0-255) in the rows and columns of the frame starting at `top`, `left`."""

    def __init__(self, coverage: np.ndarray, top: int, left: int) -> None:
        self.coverage, self.top, self.left = coverage, top, left
        self._images: dict[RGB, np.ndarray] = {}

    @classmethod
    def cropped(cls, coverage: np.ndarray) -> Stamp:
        """The stamp of the inked part of a whole frame's `coverage`."""
        rows, columns = np.flatnonzero(coverage.any(axis=1)), np.flatnonzero(coverage.any(axis=0))
        if not len(rows):
            return cls(np.zeros((0, 0), np.uint8), 0, 0)
        return cls(coverage[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1].copy(), int(rows[0]), int(columns[0]))

    def draw(self, renderer: RendererAgg, colour: RGB) -> None:
        """Blend the text in `colour` onto the canvas."""
        height, width = self.coverage.shape
        if not height:
            return
        if colour not in self._images:
            image = np.empty((height, width, 4), np.uint8)
            image[..., :3], image[..., 3] = colour, self.coverage
            self._images[colour] = image[::-1]  # draw_image's rows go upwards
        renderer.draw_image(renderer.new_gc(), self.left, renderer.height - self.top - height, self._images[colour])


class _Pattern:
    """What the clock strings of one pattern share: the box, each digit slot's columns, and renders cropped to the box."""

    def __init__(self, rows: slice, columns: slice, windows: list[slice], blank: np.ndarray) -> None:
        self.rows, self.columns, self.windows, self.blank = rows, columns, windows, blank
        self.digits: dict[tuple[int, str], np.ndarray] = {}  # (slot parity, digit) -> render


class _ClockStamps:
    """Stamps of clock strings put together per digit slot, exactly as the whole string renders, or None.

    For a pattern (a string with every digit and padding made 0) it renders the string with every digit slot blank (figure
    spaces), and with every other slot (parity 0: the first, third, ...; parity 1: the others) showing one digit and
    the rest blank. Shown digits are never neighbours there, so each slot's ink stands apart: the columns between
    neighbouring slots' zeros split the box into one window per slot. A string's stamp takes each slot's window from
    the render showing that slot's digit. Checks make this exact or unused: a render must equal the blank one outside
    the windows of the slots it shows and keep its ink inside the box, and the first string of each pattern must
    come out as it renders whole. A pattern that fails (a font without tabular digits) gets None: draw it whole.
    """

    def __init__(self, render: Callable[[str], np.ndarray]) -> None:
        self._render = render  # text -> the frame's coverage [H, W] with that text alone (valid until the next call)
        self._patterns: dict[str, _Pattern | None] = {}

    def __call__(self, text: str) -> Stamp | None:
        layout, digits = self._prepared(text)
        if layout is None or digits is None:
            return None
        coverage = np.empty(digits[0].shape, np.uint8)
        for window, shown in zip(layout.windows, digits):
            coverage[:, window] = shown[:, window]
        return Stamp(coverage, layout.rows.start, layout.columns.start)

    def _prepared(self, text: str) -> tuple[_Pattern | None, list[np.ndarray] | None]:
        """The pattern of `text` and the renders its slots take their windows from (rendering what is missing)."""
        pattern = _SLOT.sub("0", text)
        if pattern not in self._patterns:
            self._patterns[pattern] = self._layout(pattern)
            if self._patterns[pattern] is not None and not self._matches(pattern, text):
                self._patterns[pattern] = None
        layout = self._patterns[pattern]
        if layout is None:
            return None, None
        digits = [self._digit(layout, pattern, slot % 2, FIGURE_SPACE if digit == PADDING else digit)
                  for slot, digit in enumerate(_SLOT.findall(text))]
        if any(shown is None for shown in digits):
            self._patterns[pattern] = None
            return None, None
        return layout, digits

    def prepare(self, text: str) -> None:
        """Render what `text`'s stamp needs, so that it is put together without rendering later."""
        self._prepared(text)

    @staticmethod
    def _show(pattern: str, parity: int, digit: str) -> str:
        """`pattern` with the digit slots of `parity` showing `digit`, the others blank."""
        slots = iter(range(pattern.count("0")))
        return "".join((digit if next(slots) % 2 == parity else FIGURE_SPACE) if character == "0" else character
                       for character in pattern)

    def _layout(self, pattern: str) -> _Pattern | None:
        slots = pattern.count("0")
        blank, *zeros = (self._render(self._show(pattern, parity, digit)).copy()
                         for parity, digit in ((0, FIGURE_SPACE), (0, "0"), (1, "0")))
        inked = np.maximum(*zeros)
        rows, columns = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
        if not slots or not len(rows):
            return None
        # The box of the zeros and the rest, with room for digits that reach further: _digit checks that they do not.
        height, width = blank.shape
        rows = slice(max(0, rows[0] - 3), min(height, rows[-1] + 4))
        columns = slice(max(0, columns[0] - 3), min(width, columns[-1] + 4))
        centres: list[list[float]] = [[], []]
        for parity, shown in enumerate(zeros):
            ink = np.flatnonzero((shown[rows, columns] != blank[rows, columns]).any(axis=0))
            runs = np.split(ink, np.flatnonzero(np.diff(ink) > 1) + 1) if len(ink) else []
            if len(runs) != (slots + 1 - parity) // 2:
                return None
            centres[parity] = [(run[0] + run[-1]) / 2 for run in runs]
        order = [centres[slot % 2][slot // 2] for slot in range(slots)]
        if any(later <= earlier for earlier, later in zip(order, order[1:])):
            return None
        edges = [0, *(int((a + b) // 2) + 1 for a, b in zip(order, order[1:])), columns.stop - columns.start]
        return _Pattern(rows, columns, [slice(start, stop) for start, stop in zip(edges, edges[1:])], blank[rows, columns])

    def _digit(self, layout: _Pattern, pattern: str, parity: int, digit: str) -> np.ndarray | None:
        if digit == FIGURE_SPACE:
            return layout.blank
        if (parity, digit) not in layout.digits:
            render = self._render(self._show(pattern, parity, digit))
            shown = render[layout.rows, layout.columns].copy()
            others = [window for slot, window in enumerate(layout.windows) if slot % 2 != parity]
            if render.sum() != shown.sum() or any((shown[:, window] != layout.blank[:, window]).any() for window in others):
                return None  # ink outside the box, or in a neighbour's window
            layout.digits[(parity, digit)] = shown
        return layout.digits[(parity, digit)]

    def _matches(self, pattern: str, text: str) -> bool:
        """Whether `text` put together equals `text` rendered whole."""
        stamp = self(text)
        whole = self._render(text)
        layout = self._patterns[pattern]
        return (stamp is not None and layout is not None and whole.sum() == stamp.coverage.sum()
                and np.array_equal(whole[layout.rows, layout.columns], stamp.coverage))


class FramePainter:
    """Draws the frames of one motion, `size` pixels square, on a figure of its own."""

    def __init__(self, motion: Motion, size: int) -> None:
        figure = Figure(figsize=(size / 100, size / 100), dpi=100)
        self.canvas = FigureCanvasAgg(figure)
        self.scene = scene = Scene(figure.add_axes((0, 0, 1, 1)), motion)
        for artist in (*scene.under_texts, scene.caption, scene.clock, *scene.over_texts):
            artist.set_animated(True)  # left out of canvas.draw(): drawn one by one on the background
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(figure.bbox)
        self._captions: dict[str, Stamp] = {}
        self._clocks = _ClockStamps(lambda text: self._render(scene.clock, text))
        self._clock_colour = _rgb(scene.clock.get_color())

    def _render(self, artist: Text, text: str) -> np.ndarray:
        """The coverage [H, W] of `artist` showing `text` alone on a clear canvas (a view into the canvas)."""
        artist.set_text(text)
        renderer = self.canvas.get_renderer()
        renderer.clear()
        artist.draw(renderer)
        return np.asarray(self.canvas.buffer_rgba())[..., 3]

    def _caption(self, frame: int) -> tuple[Stamp | None, RGB]:
        index, text = self.scene.segment_at(frame)
        if text and text not in self._captions:
            self._captions[text] = Stamp.cropped(self._render(self.scene.caption, text))
        return self._captions.get(text), _rgb(segment_colour(index))

    def prepare(self, frames: range) -> None:
        """Render now every text stamp that `frames` need (before forking workers, which would each render them)."""
        for frame in frames:
            self._caption(frame)
            self._clocks.prepare(self.scene.clock_text(frame))

    def paint(self, frame: int) -> np.ndarray:
        """The RGBA image [size, size, 4] of `frame` (a view into the canvas, valid until the next call)."""
        scene, renderer = self.scene, self.canvas.get_renderer()
        caption, colour = self._caption(frame)
        clock_text = scene.clock_text(frame)
        clock = self._clocks(clock_text)  # stamps first: rendering one clears the canvas
        scene.place(frame)
        self.canvas.restore_region(self.background)
        for artist in scene.under_texts:
            artist.draw(renderer)
        if caption is not None:
            caption.draw(renderer, colour)
        if clock is not None:
            clock.draw(renderer, self._clock_colour)
        else:
            scene.clock.set_text(clock_text)
            scene.clock.draw(renderer)
        for artist in scene.over_texts:
            artist.draw(renderer)
        return np.asarray(self.canvas.buffer_rgba())
