"""An edit as people type it in a chat, down to the change it names.

"can you make it warmer, please?", "Warmer please!" and "ok, now a touch brighter" name the
same exact changes as "warmer" and "a bit brighter"; read as written, the words around the
change would send it past the exact route (to an instruction-edit model, which redraws
everything a little, or to a refusal on the built-in model). :func:`plain` takes off what
asks and what thanks, and nothing that could change what is asked: a word it does not know
stays, so the parsers after it refuse (or send to a model) what they do not read.
"""

from __future__ import annotations

import re

# Said before the change: "ok", "now", "can you", "please", "I'd like it"... in any order.
# One at a time (a loop, not a repeated group), so a hostile run of them costs linear time.
_ASKING = re.compile(
    r"(?:ok(?:ay)?|now|hmm+|hey|so|great|nice|alright|also|and|then"
    r"|please|pls|can you|could you|would you|will you|can we|could we|let's|lets|try to"
    r"|i(?:'d| would) like(?: it)?|i want(?: it)?)\b[,.!]?\s+"
)
# Said after it: "please", "thanks", "for me", a question or exclamation mark.
_THANKS = ("please", "pls", "thanks", "thank you", "for me")


def plain(instruction: str) -> str:
    """``instruction`` lower-cased, its spaces single, without the asking around it:
    "Could you make it warmer, please?" -> "make it warmer"."""
    text = " ".join(instruction.lower().replace("&", " and ").split()).strip(" ,.!?")
    while asked := _ASKING.match(text):
        text = text[asked.end() :]
    while said := next((w for w in _THANKS if text.endswith(w)), None):
        rest = text[: -len(said)]
        if rest and rest[-1].isalnum():  # a word ending in the letters: "displease"
            break
        text = rest.rstrip(" ,.!?")
    return text
