"""What the owner asks for in plain words, matched by meaning to the bot's commands with the shared encoder."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from brain.encoder import Encoder

# A few ways of asking for each command. The encoder matches by meaning, so other wordings of
# the same request land here too; tests/brain/test_owner_requests.py tries wordings not listed.
# CHAT is the "none of these" class: requests for opinions or help sound like commands but are
# not. IDEAS: asking what to post about ("what should we post today?" is close to "what time should
# I post"); they get ideas from the brand's facts (brain/owner_chat.py).
CHAT = "chat"
IDEAS = "ideas"
# Small talk is answered with a short true sentence, never by the model: asked about the weather
# or the sunset, a small model invents them ("mostly sunny, the sun sets at around 9pm").
SMALL_TALK = "small_talk"
NOT_COMMANDS = (CHAT, IDEAS, SMALL_TALK)
# Greetings and thanks are short, and short texts sit further from every example: nearest to the
# small-talk examples at this cosine or more is small talk ("thank you!" scores 0.49).
SMALL_TALK_MIN_COSINE = 0.4
EXAMPLES: dict[str, tuple[str, ...]] = {
    SMALL_TALK: (
        "how are you?",
        "good morning!",
        "hi there",
        "thanks, great job",
        "thank you so much",
        "bye, see you later",
        "what's the weather like today?",
        "is it going to rain tomorrow?",
        "when does the sun set today?",
        "nice day, isn't it",
        "what's new with you",
        "did you see the game last night?",
    ),
    IDEAS: (
        "what should we post about today?",
        "give me some content ideas",
        "any ideas for a post?",
        "what could we post this week",
    ),
    CHAT: (
        "what do you think of our new logo?",
        "help me answer a customer",
        "how do I write a good caption",
        "tell me a joke",
    ),
    "draft": (
        "draft a post about our autumn sale",
        "write a post announcing our new opening hours",
        "can you come up with a post on the new menu",
        "make me a social media post for the weekend offer",
        "I need a caption about our anniversary",
        "compose an announcement about free delivery",
        "draft a tweet about the new flavour",
        "write an instagram post about our team",
        "create a post about our cookies",
    ),
    "schedule": (
        "schedule it for the best time this week",
        "post it at the best time",
        "schedule that draft for friday 10:00",
        "publish the last draft tomorrow 9:00",
        "put it out when most followers are online",
        "plan that post for the best slot",
    ),
    "inbox": (
        "what is waiting for me?",
        "anything I need to look at?",
        "show me my inbox",
        "do I have replies to approve?",
        "what needs my attention",
        "did anyone complain?",
        "which messages should I answer",
        "what is in my approval queue",
    ),
    "report": (
        "how did last week go?",
        "give me a summary of the last month",
        "how are we doing on social media",
        "show me the numbers",
        "how many messages did we get this week",
        "how did our posts perform",
    ),
    "calendar": (
        "what is scheduled this week?",
        "show me the posting calendar",
        "which posts are coming up",
        "what goes out next",
        "list the scheduled posts",
    ),
    "drafts": (
        "show my drafts",
        "list the draft posts",
        "which posts are not scheduled yet",
    ),
    "besttime": (
        "when is the best time to post?",
        "what time should I post this week",
        "when are my followers most active",
    ),
}


# Where a request's topic begins ("draft a post | about our new rye bread"); bot/words.py reads the
# topic after it. The topic's words pull a whole sentence away from every example (0.40 to "draft a
# post about our autumn sale"), so the request before it is also matched against the examples' own.
TOPIC_MARKERS = r"about|regarding|announcing|on the subject of"
_TOPIC_START = re.compile(rf"\s(?:{TOPIC_MARKERS})\s", re.IGNORECASE)


def request_part(text: str) -> str:
    """The words before the topic, or the whole text when it names none."""
    found = _TOPIC_START.search(text)
    return text[: found.start()] if found and found.start() > 0 else text


class OwnerRequests:
    """Nearest example by cosine similarity, per command; below the threshold it is just chat."""

    def __init__(self, encoder: Encoder, threshold: float = 0.5) -> None:
        self.encoder = encoder
        self.threshold = threshold
        self._names = [name for name, phrases in EXAMPLES.items() for _ in phrases]
        phrases = [p for phrases in EXAMPLES.values() for p in phrases]
        self._examples = encoder.encode(phrases)
        self._requests = encoder.encode([request_part(p) for p in phrases])

    def match(self, text: str, allowed: Iterable[str] | None = None) -> tuple[str, float] | None:
        """The command the owner most likely means, with its similarity, or None for plain chat."""
        if not text.strip():
            return None
        best = self._nearest(text, allowed)
        if best is None or best[0] in NOT_COMMANDS or best[1] < self.threshold:
            return None
        return best

    def is_small_talk(self, text: str) -> bool:
        """Whether the owner is making small talk (a greeting, the weather) rather than asking for something."""
        return self.chat_kind(text) == SMALL_TALK

    def chat_kind(self, text: str) -> str:
        """What words that ask for no command are: SMALL_TALK, IDEAS (what to post about) or CHAT."""
        best = self._nearest(text, None) if text.strip() else None
        if best is not None and best[0] == SMALL_TALK and best[1] >= SMALL_TALK_MIN_COSINE:
            return SMALL_TALK
        return IDEAS if best is not None and best[0] == IDEAS else CHAT

    def _nearest(self, text: str, allowed: Iterable[str] | None) -> tuple[str, float] | None:
        allowed_names = (set(allowed) if allowed is not None else set(EXAMPLES)) | set(NOT_COMMANDS)
        whole, request = self.encoder.encode([text, request_part(text)])
        scores = np.maximum(self._examples @ whole, self._requests @ request)
        for k in np.argsort(-scores):
            if self._names[k] in allowed_names:
                return self._names[k], float(scores[k])
        return None
