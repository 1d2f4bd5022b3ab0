"""A reply's plan per intent (acknowledge, answer, next step, sign-off), filled from what the encoder finds.

The plan's own wording is a reply the owner could send as it is: every sentence is either one of
the brand's current facts, words the follower wrote (their order number, the product they named),
or one of the fixed sentences below, which promise nothing but that a person will follow up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np

from bot.config import BrandSettings
from brain.encoder import Encoder
from brain.fact_search import answering_facts
from brain.handoff import InPersonRequests, foreign_language
from brain.nearest import LabelledExamples
from brain.tone import Tone, reply_tone
from brain.understand import Understanding

ORDER_NUMBER_RE = re.compile(r"(?:#\s?|\border\s+(?:no\.?\s*|number\s*|nr\.?\s*)?#?)(\d{3,})\b", re.IGNORECASE)
_PRODUCT_RE = re.compile(
    r"\b(?:buy|order|get|purchase)\s+(?:(?:the|a|an|some|one|two|three|four|\d+|your)\s+)?"
    r"((?:[a-z][a-z-]*\s+){0,2}?[a-z][a-z-]*)(?=\s+(?:for|from|as|to|online|today|tomorrow|please|pls|with)\b|\s*[?,.!]|\s*$)",
    re.IGNORECASE,
)
_NOT_A_PRODUCT = {"it", "one", "some", "something", "this", "that", "them", "these", "those", "online", "more", "here", "from", "stuff", "things", "anything"}

# What a complaint is about, so the apology names it; "other" when none is close.
PROBLEM_EXAMPLES: dict[str, tuple[str, ...]] = {
    "damaged": ("it arrived broken", "the mug is cracked", "the box was damaged when it came", "my cake was squashed"),
    "late": ("my order has not arrived", "where is my order", "still waiting for my parcel", "the delivery is late", "ordered two weeks ago and still nothing"),
    "wrong": ("I got the wrong item", "this is not what I ordered", "something is missing from my order"),
    "quality": ("the bread was stale", "it tasted awful", "the repair did not hold", "my haircut is uneven"),
    "service": ("the staff was rude to me", "nobody answers my messages", "I waited an hour to be served"),
    "price": ("prices went up again", "this is far too expensive", "another price increase"),
}
PROBLEM_MIN_COSINE = 0.45
APOLOGIES = {
    "damaged": "We're so sorry it arrived damaged.",
    "late": "We're sorry your order{order} hasn't reached you yet.",
    "wrong": "We're sorry your order{order} isn't what you expected.",
    "quality": "We're sorry it wasn't up to the standard you expect from us.",
    "service": "We're sorry about the experience you had with us.",
    "price": "We hear you, and we're sorry it's frustrating.",
    "other": "We're sorry to hear about this.",
}
PRIVATE_MESSAGE = "Please send us a private message with the details{about} so we can look into it."
PERSON_FOLLOWS_UP = "A member of our team will get back to you shortly."
IN_PERSON_NEXT = {
    "booking": "A person from our team will get back to you shortly about the booking.",
    "refund": "A person from our team will look at this and get back to you shortly.",
    "order_change": "A person from our team will get back to you shortly about your order{order}.",
}
NO_FACT = "We don't want to guess, so a member of our team will get back to you on this shortly."
ENDED = "That one has ended, and a member of our team will get back to you shortly with what's on now."
SARCASM_NEXT = "If you'd like to talk it through, send us a private message."
# Second wordings, for when the first would repeat our last reply to the same contact.
ALTERNATIVES = {
    "Thanks for asking!": "Good question!",
    "Hi! How can we help you today?": "Hello again! What can we do for you?",
    "Thank you so much for your kind words!": "Thank you, that means a lot to us!",
    "Thanks for your interest!": "Lovely to hear you're interested!",
    PERSON_FOLLOWS_UP: "Someone from our team will reply to you shortly.",
}


@dataclass(frozen=True)
class ReplyPlan:
    """What a reply says, part by part; handoff says why a person must follow up ("" when none)."""

    intent: str
    acknowledge: str
    answer: str = ""
    next_step: str = ""
    signoff: str = ""
    facts: tuple[str, ...] = ()  # the fact sentences the answer states
    handoff: str = ""
    tone: Tone = field(default_factory=lambda: Tone("plain", False))
    order_number: str = ""
    product: str = ""

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(p for p in (self.acknowledge, self.answer, self.next_step, self.signoff) if p)

    @property
    def wording(self) -> str:
        """The plan said plainly: a complete reply on its own."""
        return " ".join(self.parts)

    def alternative(self) -> ReplyPlan:
        """The same plan in other fixed words (to a contact who just got the first ones)."""
        swap = lambda part: ALTERNATIVES.get(part, part)  # noqa: E731
        return ReplyPlan(
            self.intent, swap(self.acknowledge), self.answer, swap(self.next_step), self.signoff,
            self.facts, self.handoff, self.tone, self.order_number, self.product,
        )


@dataclass(frozen=True)
class _Finders:
    in_person: InPersonRequests
    problems: LabelledExamples


@lru_cache(maxsize=4)
def _finders(encoder: Encoder) -> _Finders:
    # Example sentences are encoded once per encoder, not once per message.
    return _Finders(InPersonRequests(encoder), LabelledExamples(encoder, PROBLEM_EXAMPLES))


def order_number(text: str) -> str:
    """The order number the follower wrote ("#4821", "order 4821"), as "#4821"; "" when none."""
    match = ORDER_NUMBER_RE.search(text)
    return f"#{match.group(1)}" if match else ""


def named_product(text: str) -> str:
    """The product the follower says they want ("buy the gift box for ..." -> "gift box"), in their own words."""
    match = _PRODUCT_RE.search(text)
    if not match:
        return ""
    product = match.group(1).strip().lower()
    return "" if product in _NOT_A_PRODUCT or product.split()[0] in _NOT_A_PRODUCT else product


def build_plan(
    text: str,
    understanding: Understanding,
    brand: BrandSettings,
    encoder: Encoder | None,
    today: date | None = None,
) -> ReplyPlan:
    intent = understanding.intent
    tone = reply_tone(text, understanding)
    order = order_number(text)
    signoff = brand.signoff
    thanks = "Thanks for asking!" if tone.kind != "sorry" else "Thanks for your message."

    if intent == "unsubscribe":
        return ReplyPlan(intent, "Understood, we won't message you again.", signoff=signoff, tone=tone)
    if language := foreign_language(text, brand.language):
        return ReplyPlan(
            intent, "Thanks for your message!" if tone.kind != "sorry" else "Thanks for your message.",
            next_step=PERSON_FOLLOWS_UP, signoff=signoff, tone=tone, order_number=order,
            handoff=f"written in '{language}'; the brand writes in '{brand.language}'",
        )
    vector = encoder.encode([text])[0] if encoder is not None else None
    finders = _finders(encoder) if encoder is not None else None

    if finders is not None and vector is not None and intent not in ("complaint", "praise"):
        request = finders.in_person.match(vector)
        if request.kind:
            ack = thanks if request.kind == "booking" else "Thanks for letting us know."
            return ReplyPlan(
                intent, ack, next_step=IN_PERSON_NEXT[request.kind].format(order=f" {order}" if order else ""),
                signoff=signoff, tone=tone, order_number=order,
                handoff=f"a {request.kind.replace('_', ' ')} request: the shop handles it in person",
            )
    if tone.sarcastic and intent not in ("complaint", "support_request"):
        return ReplyPlan(
            intent, APOLOGIES["price"] if _problem(finders, vector) == "price" else "We hear you, and we're sorry this is frustrating.",
            next_step=SARCASM_NEXT, signoff=signoff, tone=tone, handoff="sarcastic: the owner decides how to answer",
        )
    if intent == "complaint":
        problem = _problem(finders, vector)
        about = f" of order {order}" if order else ""
        return ReplyPlan(
            intent, APOLOGIES[problem].format(order=f" {order}" if order else ""),
            next_step=PRIVATE_MESSAGE.format(about=about), signoff=signoff, tone=tone, order_number=order,
        )
    if intent == "support_request":
        # A support request that names a problem ("arrived cracked") gets that problem's apology.
        problem = _problem(finders, vector)
        about = f" with order {order}" if order else ""
        ack = APOLOGIES[problem].format(order=f" {order}" if order else "") if problem not in ("other", "price") else f"Sorry for the trouble{about}."
        return ReplyPlan(
            intent, ack,
            next_step="Please send us a private message with the details, and a member of our team will help you shortly.",
            signoff=signoff, tone=tone, order_number=order,
        )
    if intent == "purchase_intent":
        product = named_product(text)
        ack = f"Thanks for your interest in the {product}!" if product else "Thanks for your interest!"
        if brand.allowed_links:
            return ReplyPlan(intent, ack, answer=f"You can order here: {brand.allowed_links[0]}", signoff=signoff, tone=tone, product=product)
        return ReplyPlan(intent, ack, next_step="Send us a private message and we'll help you order.", signoff=signoff, tone=tone, product=product)
    if intent == "praise":
        ack = "Thank you so much for your kind words!" if tone.kind == "warm" else "Thank you for your kind words."
        return ReplyPlan(intent, ack, signoff=signoff, tone=tone)
    if intent == "feedback":
        ack = "Thank you for taking the time to tell us." if tone.kind != "sorry" else "Thank you for telling us, and we're sorry it wasn't what you hoped for."
        return ReplyPlan(intent, ack, signoff=signoff, tone=tone)

    asks = intent == "question" or "?" in text
    facts = brand.current_facts(today)
    if asks and encoder is not None and facts:
        match = answering_facts(text, facts, encoder)
        if match.sentences:
            return ReplyPlan(intent, thanks, answer=" ".join(match.sentences), signoff=signoff, facts=match.sentences, tone=tone)
    if intent == "greeting":
        return ReplyPlan(intent, "Hi! How can we help you today?", signoff=signoff, tone=tone)
    ended = brand.ended_facts(today)
    if asks and encoder is not None and ended and answering_facts(text, ended, encoder).sentences:
        return ReplyPlan(intent, thanks, next_step=ENDED, signoff=signoff, tone=tone, handoff="asks about a fact whose dates have passed")
    if intent == "question":
        return ReplyPlan(intent, thanks, next_step=NO_FACT, signoff=signoff, tone=tone, handoff="the facts do not cover the question")
    return ReplyPlan(
        intent, "Thanks for your message.", next_step=PERSON_FOLLOWS_UP, signoff=signoff, tone=tone,
        order_number=order, handoff="not clear what the message asks for",
    )


def _problem(finders: _Finders | None, vector: np.ndarray | None) -> str:
    if finders is None or vector is None:
        return "other"
    problem, similarity = finders.problems.nearest(vector)
    return problem if similarity >= PROBLEM_MIN_COSINE else "other"
