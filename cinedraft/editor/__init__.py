"""The editor: cut, merge, extend, reframe, retime, grade and re-score clips; OTIO
interchange."""

from .editor import Editor, grade_adjustments
from .timeline import Clip, Timeline, Transition

__all__ = ["Clip", "Editor", "Timeline", "Transition", "grade_adjustments"]
