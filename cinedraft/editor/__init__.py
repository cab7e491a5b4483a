"""The editor: cut, merge, extend, reframe, retime and re-score clips; OTIO interchange."""

from .editor import Editor
from .timeline import Clip, Timeline, Transition

__all__ = ["Clip", "Editor", "Timeline", "Transition"]
