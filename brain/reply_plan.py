"""A reply's plan per intent (acknowledge, answer, next step, sign-off), filled from what the encoder finds.

The plan's own wording is a reply the owner could send as it is: every sentence is either one of
the brand's current facts, words the follower wrote (their order number, the product they named),
or one of the fixed sentences below, which promise nothing but that a person will follow up."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np

from core.config import BrandSettings
from brain.checks import PRICE_RE, URL_RE
from brain.coverage import coverage
from brain.encoder import Encoder
from brain.fact_search import (
    ANSWER_MIN_COSINE, QUESTION_RE, RELEVANCE_NOT, RELEVANCE_SEND, RELEVANCE_SURE, FactMatch, answering_facts, continues_previous, question_parts,
)
from brain.handoff import InPersonRequests, foreign_language
from brain.nearest import LabelledExamples
from brain.tone import Tone, names_a_grievance, reply_tone
from brain.understand import Understanding

ORDER_NUMBER_RE = re.compile(r"(?:#\s?|\border\s+(?:no\.?\s*|number\s*|nr\.?\s*)?#?)(\d{3,})\b", re.IGNORECASE)
_PRODUCT_RE = re.compile(
    r"\b(?:buy|order|get|purchase)\s+(?:(?:the|a|an|some|one|two|three|four|\d+|your|my|our)\s+)?"
    r"((?:[a-z][a-z-]*\s+){0,2}?[a-z][a-z-]*)(?=\s+(?:for|from|as|to|online|today|tomorrow|please|pls|with)\b|\s*[?,.!]|\s*$)",
    re.IGNORECASE,
)
_NOT_A_PRODUCT = {"order", "it", "one", "myself", "yourself", "ourselves", "some", "something", "this", "that", "them", "these", "those", "online", "more", "here", "from", "stuff", "things", "anything"}
# Words that make a phrase no product name: an article inside it, a number, a person.
_NOT_IN_A_PRODUCT = {
    "a", "an", "the", "my", "your", "his", "her", "our", "their", "me", "us", "him",
    "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "dozen", "few", "couple",
    "sister", "brother", "mum", "mom", "mother", "dad", "father", "friend", "wife", "husband", "partner",
    "son", "daughter", "kids", "family", "boss", "nan", "gran", "grandma", "grandpa",
}  # fmt: skip
BARE_GREETING_MAX_WORDS = 3
SMALL_TALK_MAX_WORDS = 6
# Thanks for kind words goes out on its own only when the intent head is this sure it is praise:
# sarcasm it read as praise scored 0.50-0.59 on the reply bench's tune split, praise sent 0.66-1.0.
# With the head retrained on confusions.csv (2026-12-07), 0.75 to 0.8 holds 4 more kind messages
# of the tune split and nothing else.
PRAISE_SURE_CONFIDENCE = 0.75
PRAISE_MAX_SARCASM = 0.5  # ... and the sarcasm head, under its own bar, gives it less than even odds
# Below this intent confidence a negative "stop" reading is more likely a grievance than an opt-out.
UNSURE_STOP_CONFIDENCE = 0.5
# Below this, a purchase reading of a message that asks what a fact answers is a question: the
# questions the intent head took for purchases ("could you do something like it for my work christmas
# party?") read 0.39-0.76 on the tune split, its purchases mostly 0.85 and above (0.5 -> 0.8 there:
# two replies fixed, none broken).
UNSURE_PURCHASE_CONFIDENCE = 0.8
# Emoji that say something is wrong; a message of other emoji alone gets no apology.
NEGATIVE_EMOJI = ("😡", "🤬", "😠", "😤", "👎", "😢", "😭", "😞", "😔", "😩", "😫", "🙄", "😒", "🙃", "💩", "🤮", "😾", "💔")
_WORD_RE = re.compile(r"[^\W\d_]+")
# A question about what something costs, which only a fact with a price answers.
_ASKS_PRICE_RE = re.compile(r"\b(?:how much(?! (?:time|notice|longer|later|earlier|in advance|ahead|before))|price[sd]?|pricing|cost(?:s|ing)?|charge|fee|pricey|expensive|cheap(?:er|est)?|quote)\b", re.IGNORECASE)
_ASKS_YOU_RE = re.compile(r"\s*(?:(?:and|or|also|so)\s+)?(?:do|does|is|are|can|could|will|would|when|what|where|how)\s+(?:you|u|ya|i|we|it|there|they)\b", re.IGNORECASE)
_HELLO_RE = re.compile(r"^\W*(?:hi+|hello|hey+|hiya|yo|howdy|good (?:morning|afternoon|evening|day)|morning|evening|moin|hallo|salut|hola|bonjour|ciao)\b", re.IGNORECASE)

# A hello with a how-are-you, told from a hello with a short question a fact answers.
SMALL_TALK_EXAMPLES: dict[str, tuple[str, ...]] = {
    "small_talk": (
        "how are you?", "hey, how's it going?", "you around?", "anyone there?", "how's the shop doing?",
        "how have you been?", "what's up?", "got a minute?", "hope you're well!", "hey, quick question",
        "how's business?", "long time no see!", "hi, you there?", "how's your day going?",
    ),
    "asks": (
        "are you open?", "open today?", "open on sunday?", "do you deliver?", "where are you?",
        "how much is it?", "do you have it in stock?", "can I book?", "do you fix e-bikes?", "any vegan cakes?",
        "what time do you close?", "can I pay by card?", "is there parking?", "do you sell gift cards?",
        "is saturday ok?", "tomorrow at 10?",
    ),
}

# What a complaint is about, so the apology names it; "other" when none is close.
PROBLEM_EXAMPLES: dict[str, tuple[str, ...]] = {
    "damaged": ("it arrived broken", "the mug is cracked", "the box was damaged when it came", "my cake was squashed", "my order came but half of it was crushed"),
    "late": ("my order has not arrived", "where is my order", "still waiting for my parcel", "the delivery is late", "ordered two weeks ago and still nothing"),
    "wrong": ("I got the wrong item", "this is not what I ordered", "something is missing from my order", "I ordered one thing and got another", "got the wrong cake", "they sent me the wrong size"),
    "quality": ("the bread was stale", "it tasted awful", "the repair did not hold", "my haircut is uneven"),
    "service": ("the staff was rude to me", "nobody answers my messages", "I waited an hour to be served"),
    "price": ("prices went up again", "this is far too expensive", "another price increase"),
}
PROBLEM_MIN_COSINE = 0.45
# The rule that puts a problem right is stated only when the problem is this far ahead of the next
# one: "third time my order is late" reads as late and as a wrong item almost alike.
REMEDY_PROBLEM_LEAD = 0.05
APOLOGIES = {
    "damaged": "We're so sorry it arrived damaged.",
    "late": "We're sorry your order{order} hasn't arrived.",
    "wrong": "We're sorry about the mix-up with your order{order}.",
    "quality": "We're sorry it wasn't up to our standard.",
    "service": "We're sorry, that shouldn't happen.",
    "price": "We hear you, and we're sorry about that.",
    "other": "We're sorry to hear about this.",
}
# The problems whose apology speaks of an order, and the words that say the thing came from the shop.
_ORDER_PROBLEMS = ("damaged", "late", "wrong")
_FROM_US_RE = re.compile(
    r"\b(?:order(?:s|ed)?|arriv(?:e|ed|es|ing)|deliver(?:y|ed)?|bought|purchased?|received|came|come|shipped|parcel|package|box|sent|got)\b",
    re.IGNORECASE,
)
# Said in a comment and in a direct message alike: "message us" asks for the details where only we
# read them, and says a person follows up, so a complaint is never left with a robot.
PRIVATE_MESSAGE = "Please message us the details{about}, and a member of our team will look into it and get back to you shortly."
PERSON_FOLLOWS_UP = "A member of our team will get back to you shortly."
IN_PERSON_NEXT = {
    "booking": "A person from our team will get back to you shortly about it.",
    "booking_change": "A person from our team will get back to you shortly about it.",
    "status": "A person from our team will check and get back to you shortly.",
    "refund": "A person from our team will look at this and get back to you shortly.",
    "order_change": "A person from our team will get back to you shortly about your order{order}.",
}
IN_PERSON_FACT_MARGIN = 0.1
# What the fact about each in-person request answers; it is stated when clearly ahead of the others.
# A change to a booking has none, nor a question about the follower's own booking or order: how new
# ones are booked is beside the point.
IN_PERSON_FACT_QUERIES = {
    "booking": "How do I book an appointment or reserve?",
    "refund": "Can I get a refund or return it?",
    "order_change": "Can I change or cancel my order?",
}
# What the fact about putting each problem right answers (a returns or replacement rule); stated in a
# complaint or support reply naming that problem when it is clearly ahead of the other facts.
REMEDY_QUERIES = {
    "damaged": "My order arrived damaged, what can I do?",
    "wrong": "I got the wrong item, what can I do?",
    "quality": "I'm not happy with it, what can I do?",
}
# A fact that starts with its condition ("If an order arrives damaged or wrong, ...") holds only for
# the problem it names: it is stated to a request only when it is the remedy of the message's problem.
_CONDITIONAL_RE = re.compile(r"^\s*(?:if|when|unless|in case)\b", re.IGNORECASE)
SUPPORT_NEXT = "Please send us a private message with the details, and a member of our team will help you shortly."
SUPPORT_MORE = "If that doesn't help, send us a private message and a member of our team will help."
# A complaint states a fact only when it is clearly about it (the damaged-order rule), not in passing.
COMPLAINT_FACT_EXTRA = 0.1
# A partial answer states the facts found only when the cross-encoder gives them at least this P of
# answering (or is sure of another fact); below it they are words in common, not an answer.
PARTIAL_MIN_RELEVANCE = 0.2
HELLO = "Hi! How can we help you today?"
NO_FACT = "A member of our team will get back to you on this shortly."
ENDED = "That one is over now, and a member of our team will get back to you shortly."
SARCASM_NEXT = "If you'd like to talk it through, send us a private message."
# Second wordings, for when the first would repeat our last reply to the same contact.
ALTERNATIVES = {
    "Thanks for asking!": "Good question!",
    HELLO: "Hello again! What can we do for you?",
    "Thank you so much for your kind words!": "Thank you, that means a lot to us!",
    "Hi, and thank you - that means a lot to us!": "Hello, and thanks so much - lovely to hear from you!",
    "Thanks for your interest!": "Lovely to hear you're interested!",
    PERSON_FOLLOWS_UP: "Someone from our team will reply to you shortly.",
}


KINDS = (
    "fact_answer", "partial_answer", "greeting", "praise", "feedback", "purchase", "stop", "in_person", "sarcasm",
    "complaint", "support", "support_answer", "negative", "ended", "coming", "no_fact", "unclear", "unsure_praise",
)  # fmt: skip


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
    # What kind of reply this is (one of KINDS) and, for a fact answer, how far the chosen fact's
    # score stands above the best other fact's: the policy sends only kinds it is sure of.
    kind: str = "unclear"
    margin: float = 0.0

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
        return replace(self, acknowledge=swap(self.acknowledge), next_step=swap(self.next_step))


@dataclass(frozen=True)
class _Finders:
    in_person: InPersonRequests
    problems: LabelledExamples
    small_talk: LabelledExamples


def _finders(encoder: Encoder) -> _Finders:
    # Example sentences are encoded once per encoder (kept with it), not once per message.
    return encoder.memo("reply_plan.finders", lambda: _Finders(
        InPersonRequests(encoder), LabelledExamples(encoder, PROBLEM_EXAMPLES), LabelledExamples(encoder, SMALL_TALK_EXAMPLES),
    ))


def bare_greeting(text: str, brand_name: str = "") -> bool:
    """A message that says hello and nothing else of substance ("hiii", "Good evening", "Moin!", "hi
    Acme Bakery", "hi there, hope you're well"): the only kind that "How can we help you today?" answers."""
    if "?" in text:
        return False
    own = {w.lower() for w in _WORD_RE.findall(brand_name)}
    return len([w for w in _WORD_RE.findall(text) if w.lower() not in own]) <= BARE_GREETING_MAX_WORDS or bool(_HELLO_RE.match(text))


def small_talk(text: str, finders: _Finders | None, vector: np.ndarray | None) -> bool:
    """A few words of how-are-you ("sup sam, how's the shop", "you around?"), nearer by meaning to
    such examples than to a short question a fact answers ("hey, do you deliver?")."""
    if finders is None or vector is None or len(_WORD_RE.findall(text)) > SMALL_TALK_MAX_WORDS:
        return False
    return finders.small_talk.nearest(vector)[0] == "small_talk"


def asks_something(text: str) -> bool:
    """Whether the message asks a question, also without a question mark ("how do I return a pump
    I bought, it's still in the box")."""
    return "?" in text or any(QUESTION_RE.search(part) for part in question_parts(text))


def _asks_you(text: str) -> bool:
    """Whether the message asks something, with a question mark or as a question to the shop
    ("... will you still be open"), not a wish ("would be nice if you opened on sundays")."""
    return "?" in text or any(_ASKS_YOU_RE.match(part) for part in question_parts(text))


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
    words = product.split()
    # "get three for the family", "get my sister a voucher": a number or a person, not the product.
    if product in _NOT_A_PRODUCT or words[0] in _NOT_A_PRODUCT or any(w in _NOT_IN_A_PRODUCT for w in words):
        return ""
    return product


def build_plan(
    text: str,
    understanding: Understanding,
    brand: BrandSettings,
    encoder: Encoder | None,
    today: date | None = None,
    history: Sequence[tuple[str, str]] = (),
) -> ReplyPlan:
    """history: the contact's recent (their message, our reply) pairs, for follow-up questions."""
    language = foreign_language(text, brand.language)
    plan = _intent_plan(text, understanding, brand, encoder, today, history, foreign=bool(language))
    if language:
        # Answered in the brand's language as far as the plan goes; a person writes the rest.
        reason = f"written in '{language}'; the brand writes in '{brand.language}'"
        follow_up = plan.next_step if plan.handoff and plan.next_step else " ".join(p for p in (plan.next_step, PERSON_FOLLOWS_UP) if p)
        plan = replace(plan, next_step=follow_up, handoff=f"{reason}; {plan.handoff}" if plan.handoff else reason)
    return plan


def _intent_plan(
    text: str,
    understanding: Understanding,
    brand: BrandSettings,
    encoder: Encoder | None,
    today: date | None,
    history: Sequence[tuple[str, str]],
    *,
    foreign: bool,
) -> ReplyPlan:
    intent = understanding.intent
    tone = reply_tone(text, understanding)
    order = order_number(text)
    signoff = brand.signoff
    thanks = "Thanks for asking!" if tone.kind != "sorry" else "Thanks for your message."
    negative = understanding.sentiment == "negative" or tone.sarcastic or names_a_grievance(text)
    if not _WORD_RE.search(text) and not any(sign in text for sign in NEGATIVE_EMOJI):
        negative = False  # the heads read words: "🔥🔥" is no complaint
    base: dict[str, Any] = {"signoff": signoff, "tone": tone, "order_number": order}

    stop = ReplyPlan(intent, "Understood, we won't message you again.", signoff=signoff, tone=tone, kind="stop")
    # An unsure stop reading of a message that asks something waits for the facts: "closed on
    # mondays, the one day I'm off. so when ARE you open" is a question a fact answers.
    unsure_stop = intent == "unsubscribe" and not foreign and understanding.intent_confidence < UNSURE_STOP_CONFIDENCE and asks_something(text)
    if intent == "unsubscribe" and not foreign and not unsure_stop:
        if understanding.intent_confidence >= UNSURE_STOP_CONFIDENCE or not negative:
            return stop
        # "still nothing from you guys": an unsure stop reading of a grievance is answered as one,
        # not with "we won't message you again" to a customer still waiting for us.
        intent = "complaint"
    vector = encoder.encode([text])[0] if encoder is not None else None
    finders = _finders(encoder) if encoder is not None else None
    clear_problem = _clear_problem(finders, vector)
    if tone.kind == "sorry" and clear_problem != "other":
        # "my cake box came squashed, can I get a new one?" read as a question: sorry first, then the answer.
        thanks = _apology(clear_problem, text, order).format(order=f" {order}" if order else "")
    facts = brand.current_facts(today)
    asked = brand.fact_questions()
    match = answering_facts(text, facts, encoder, history[-1][0] if history else "", asked) if encoder is not None and facts else FactMatch((), 0.0, 0.0)
    if foreign:  # the cross-encoder read English only: a message in another language is matched by meaning alone
        match = replace(match, sure="", sure_relevance=0.0)
    if unsure_stop:
        if match.sure_relevance >= RELEVANCE_SEND:
            intent = "question"  # ... and gets its answer, never "we won't message you again"
        elif not negative:
            return stop
        else:
            intent = "complaint"
    stated = " ".join(match.sentences)
    margin = match.score - match.runner_up
    ended = brand.ended_facts(today)
    stale = answering_facts(text, ended, encoder, questions=asked) if encoder is not None and ended else FactMatch((), 0.0, 0.0)
    # A message about an offer that has ended gets "that one is over now", unless the cross-encoder,
    # reading the message with that offer, is sure it asks about something else.
    ruled_out = stale.relevance is not None and stale.relevance < RELEVANCE_NOT
    asks_ended = bool(stale.sentences) and stale.score > match.score and not ruled_out
    # An offer that starts later is said with its start ("From 1 January 2027: ..."), when the
    # message is closer to it than to any current or ended fact, and the cross-encoder does not rule
    # it out and reads no current fact as the answer, or reads it as the answer, surer than any
    # current fact ("when do you start the galette des rois?" is not answered by how much notice a
    # celebration cake needs).
    coming = brand.coming_facts(today)
    soon = answering_facts(text, list(coming), encoder, questions={k: asked.get(v, ()) for k, v in coming.items()}) if encoder is not None and coming else FactMatch((), 0.0, 0.0)
    coming_sure = soon.sure_relevance >= RELEVANCE_SEND and soon.sure_relevance > match.sure_relevance
    asks_coming = bool(soon.sentences) and soon.score > max(match.score, stale.score) and (
        coming_sure or (not match.sure and (soon.relevance is None or soon.relevance >= RELEVANCE_NOT))
    )

    if finders is not None and vector is not None and intent not in ("complaint", "praise"):
        request = finders.in_person.match(vector)
        if request.kind:
            # The fact about it (how bookings are made, the returns rule) is stated, then a person
            # follows up: found by what such a request is about, not by the message's other words
            # ("book a cut for saturday" is not about the haircut guarantee nor the hours).
            ack = thanks if request.kind == "booking" else "Thanks for letting us know."
            query = IN_PERSON_FACT_QUERIES.get(request.kind, "")
            about_it = answering_facts(query, facts, encoder, questions=asked) if facts and query else FactMatch((), 0.0, 0.0)
            if about_it.score < ANSWER_MIN_COSINE + COMPLAINT_FACT_EXTRA and about_it.score - about_it.runner_up < IN_PERSON_FACT_MARGIN:
                about_it = FactMatch((), about_it.score, about_it.runner_up)  # no fact is clearly about it
            # ... and it must hold for this message: "a refund for yesterday's order" names no damage
            # for the damaged-order rule, "a refund for the service" is not what the returns rule
            # for parts is about.
            remedy = _remedy(clear_problem, facts, encoder, asked)
            kept = tuple(s for s in about_it.sentences if _applies(s, request.kind, text, facts, encoder, asked, remedy))
            about_it = replace(about_it, sentences=kept)
            # A question the message asks that a fact answers in full is answered too ("is there a
            # fee if I leave my bike after the repair?" is about the storage fact, not only a booking);
            # not one about the follower's own booking or order ("is my bike ready yet?" is no "usually
            # ready within 2 days": only a person can look it up).
            if request.kind != "status" and "?" in text and match.score >= ANSWER_MIN_COSINE + COMPLAINT_FACT_EXTRA and _answers_all(text, match, encoder):
                about_it = FactMatch(tuple(dict.fromkeys([*match.sentences, *about_it.sentences]))[:2], match.score, match.runner_up)
            elif match.sure and request.kind == "booking" and not _CONDITIONAL_RE.match(match.sure):
                # "can you hold a table for 5?": the fact the cross-encoder is sure answers it ("we do
                # not take table reservations") comes first, in other words than the message's; a
                # refund or a change of booking keeps to the rules above.
                about_it = FactMatch(tuple(dict.fromkeys([match.sure, *about_it.sentences]))[:2], match.score, match.runner_up)
            return ReplyPlan(
                intent, ack, answer=" ".join(about_it.sentences), facts=about_it.sentences,
                next_step=IN_PERSON_NEXT[request.kind].format(order=f" {order}" if order else ""),
                handoff=f"a {request.kind.replace('_', ' ')} request: the shop handles it in person", kind="in_person", **base,
            )
    if tone.sarcastic and intent not in ("complaint", "support_request"):
        # "wow can't wait to pay a fortune again. how much is a cut these days?": the answer too.
        answered = asks_something(text) and not asks_ended and (match.sure or _answers_all(text, match, encoder))
        said = match.with_sure().sentences[:1] if answered and match.sure else match.sentences if answered else ()
        return ReplyPlan(
            # Thanks, never cheer: "looks great but it's hard to open" is mixed, not only sarcastic.
            intent, "Thanks for letting us know. " + (APOLOGIES["price"] if _problem(finders, vector) == "price" else "We hear you, and we're sorry about this."),
            answer=" ".join(said), facts=said, next_step=SARCASM_NEXT, handoff="sarcastic: the owner decides how to answer", kind="sarcasm", **base,
        )
    if intent == "praise" and understanding.sentiment == "negative" and clear_problem not in ("other", "price"):
        intent = "complaint"  # "half the pastries in my gift box were broken": a problem, never "kind words"
    problem = _problem(finders, vector) if intent in ("complaint", "support_request", "other", "feedback") else "other"
    asks = intent == "question" or asks_something(text)
    if not asks and history and continues_previous(text) and asks_something(history[-1][0]) and intent in ("praise", "greeting", "feedback", "other"):
        # "and new years day" after "are you open on christmas eve?": the same question again.
        asks, intent = True, "question"
    # The apology names the problem only when it is clearly that one: "sorry your order hasn't
    # arrived" to a wrong order is as bad as no apology.
    sorry = _apology(clear_problem if problem != "other" else "other", text, order)
    if intent in ("complaint", "other") and understanding.sentiment == "positive" and not tone.sarcastic and not asks and problem == "other":
        intent = "praise"  # "honest prices, rare these days": kind words the intent head took for a problem
    elif intent == "complaint" and not negative and problem == "other":
        # No problem named and nothing negative: a plain question, or a request a person must handle.
        intent = "question" if asks and match.sentences else "support_request"
    elif (intent == "support_request" and asks or intent in ("feedback", "other") and _asks_you(text)) and not negative and not order and match.sure and not asks_ended:
        # "can you deliver to my office? it's 5 km away", "what about sunday morning?": a question a
        # fact answers (the cross-encoder reads it so), which the intent head took for a request for
        # help (and the problem finder for a late order), for feedback or for something else.
        intent = "question"
    elif intent == "purchase_intent" and understanding.intent_confidence < UNSURE_PURCHASE_CONFIDENCE and asks and match.sure_relevance >= RELEVANCE_SEND and not asks_ended:
        # "thinking of popping in sunday with my mum, will you be around?": a visit, not an order,
        # when the intent head is unsure and the cross-encoder is sure a fact answers it.
        intent = "question"
    if intent == "complaint":
        about = f" of order {order}" if order else ""
        strong = match.score >= ANSWER_MIN_COSINE + COMPLAINT_FACT_EXTRA
        remedy = _remedy(clear_problem, facts, encoder, asked)
        # A question in it that a fact answers in full is answered, whatever else it says.
        full = asks and _answers_all(text, match, encoder)
        # ... or the fact the cross-encoder is sure answers its question ("wrong size, still in the
        # packet. can I bring it back?" and the returns rule).
        sure = match.with_sure().sentences[:1] if asks and not order and match.sure_relevance >= RELEVANCE_SEND else ()
        said = (match.sentences if full else _for_problem(problem, match.sentences) if strong else ()) or sure or remedy.sentences
        return ReplyPlan(
            intent, sorry.format(order=f" {order}" if order else ""),
            answer=" ".join(said), facts=said,
            next_step=PRIVATE_MESSAGE.format(about=about), kind="complaint", **base,
        )
    if asks and asks_ended and intent in ("support_request", "purchase_intent"):
        return ReplyPlan(intent, thanks, next_step=ENDED, handoff="asks about a fact whose dates have passed", kind="ended", **base)
    if asks and asks_coming and intent not in ("praise", "feedback"):
        said = (soon.sure,) if coming_sure else soon.sentences[:1]
        return ReplyPlan(intent, thanks, answer=" ".join(said), facts=said, kind="coming", margin=soon.score - max(soon.runner_up, match.score), **base)
    if intent == "support_request":
        # A support request that names a problem ("arrived cracked") gets that problem's apology.
        about = f" with order {order}" if order else ""
        ack = sorry.format(order=f" {order}" if order else "") if problem not in ("other", "price") else f"Sorry for the trouble{about}, and thanks for letting us know."
        # A fact is stated when clearly about it, or when the message is a plain question ("can I
        # return a chain?"); a person still offers to help.
        # The sentiment head reads a condition ("if it doesn't fit") as negative: then the fact must
        # be clearly ahead of the others.
        plain = problem == "other" and (not negative or margin >= IN_PERSON_FACT_MARGIN)
        full = _answers_all(text, match, encoder)
        plain_question = asks and bool(match.sentences) and (plain or full)
        said = match.sentences if full else _for_problem(problem, match.sentences)
        if asks and not order and match.sure and (problem in ("other", "price") or match.sure_relevance >= RELEVANCE_SEND):
            # "bought brake pads, wrong size, never opened. can i bring them back?": the fact the
            # cross-encoder is sure answers it (the returns rule), and a person still offers to help.
            said, plain_question = match.with_sure().sentences[:1], True
        if said and (match.score >= ANSWER_MIN_COSINE + COMPLAINT_FACT_EXTRA or plain_question):
            return ReplyPlan(intent, ack, answer=" ".join(said), facts=said, next_step=SUPPORT_MORE, kind="support_answer", margin=margin, **base)
        remedy = _remedy(clear_problem, facts, encoder, asked)
        if remedy.sentences:  # "my cake box came squashed, can I get a new one?": the replacement rule
            return ReplyPlan(intent, ack, answer=" ".join(remedy.sentences), facts=remedy.sentences, next_step=SUPPORT_MORE, kind="support_answer", **base)
        return ReplyPlan(intent, ack, next_step=SUPPORT_NEXT, handoff="a support request: a person must help", kind="support", **base)
    if intent == "purchase_intent":
        product = named_product(text)
        ack = f"Thanks for your interest in the {product}!" if product else "Thanks for your interest!"
        link = brand.allowed_links[0] if brand.allowed_links else ""
        # "what's the latest I can order online?" is answered by the delivery cut-off the
        # cross-encoder is sure of, not by "you can order online", whose words it shares.
        match = match.with_sure()
        stated = " ".join(match.sentences)
        # A fact with a link of its own (gift cards at .../gift) is not followed by another one (.../book).
        answer = " ".join(p for p in (stated, f"You can order here: {link}" if link and not URL_RE.search(stated) else "") if p)
        next_step = "" if link else "Send us a private message and we'll help you order."
        # The cross-encoder reads the message with the fact: "can i buy the shampoo you use?" is not
        # answered by "We use vegan products from Davines", whose words it shares.
        unanswered = match.relevance is not None and match.relevance < RELEVANCE_SURE and not match.sure
        # ... and when it is sure a fact answers ("can I just collect it myself?" and "pickup at the
        # shop is free"), that fact stands although the words differ.
        worded_apart = match.sure_relevance < RELEVANCE_SEND and encoder is not None and coverage(text, match.about, encoder).none_covered
        if "?" in text and (not match.sentences or unanswered or worded_apart):
            # "do you have a medium frame?": the link alone does not answer it, nor a fact beside it.
            link_only = f"You can order here: {link}" if link else ""
            return ReplyPlan(
                intent, ack, answer=link_only, next_step=NO_FACT, product=product, kind="purchase",
                handoff="the facts do not cover the question", **{**base, "order_number": ""},
            )
        return ReplyPlan(
            intent, ack, answer=answer, next_step=next_step, facts=match.sentences, product=product, kind="purchase",
            margin=margin, **{**base, "order_number": ""},
        )
    if intent == "praise":
        ack = "Thank you so much for your kind words!" if tone.kind == "warm" else "Thank you for your kind words."
        if asks and not asks_ended and _answers_all(text, match, encoder):
            # "love your bread! do you deliver on sundays?": the thanks, and the fact that answers.
            return _fact_answer(text, intent, ack, match, margin, encoder, base)
        if asks and not asks_ended and match.sure:
            # "never had my hair coloured before, anything I should know?": a question the intent
            # head took for kind words; thanks for kind words only when the sentiment head agrees.
            return _fact_answer(text, intent, ack if understanding.sentiment == "positive" else thanks, *_sure_first(match, margin), encoder, base)
        # Sent on its own only when the sentiment head reads it as positive too: thanks for "kind
        # words" to a message that is not kind is the worst reply there is.
        # ... and when the sarcasm head, though under its own bar, gives it even odds ("great job on the
        # brakes, they now squeal louder than my kids. money well spent 👍" read 0.55; no praise of the
        # bench's tune split read above 0.44).
        sure = (
            understanding.sentiment == "positive" and understanding.intent_confidence >= PRAISE_SURE_CONFIDENCE
            and understanding.sarcastic_confidence < PRAISE_MAX_SARCASM
        )
        # It waits for the owner when unsure; a draft that thanks a message the sentiment head reads
        # as negative for its kind words would still be the worst reply there is.
        return ReplyPlan(intent, ack if understanding.sentiment != "negative" else "Thanks for your message.", signoff=signoff, tone=tone, kind="praise" if sure else "unsure_praise")
    if asks and (match.sentences or match.sure) and not asks_ended and intent == "other":
        return _fact_answer(text, intent, thanks, *_sure_first(match, margin), encoder, base)  # "?? hours", "and sundays?"
    if negative and intent in ("feedback", "other"):
        answered = asks and not asks_ended and _answers_all(text, match, encoder)
        return ReplyPlan(
            intent, f"Thanks for letting us know. {sorry.format(order=f' {order}' if order else '')}",
            answer=stated if answered else "", facts=match.sentences if answered else (),
            next_step=PRIVATE_MESSAGE.format(about=f" of order {order}" if order else ""),
            handoff="a negative message: the owner answers", kind="negative", **base,
        )
    if intent == "feedback":
        if asks and not asks_ended and _answers_all(text, match, encoder):
            return _fact_answer(text, intent, "Thank you for the feedback!", match, margin, encoder, base)
        return ReplyPlan(intent, "Thank you for the feedback, we really appreciate it.", signoff=signoff, tone=tone, kind="feedback")

    if asks and asks_ended:
        return ReplyPlan(intent, thanks, next_step=ENDED, handoff="asks about a fact whose dates have passed", kind="ended", **base)
    if intent == "greeting" and asks and not order and small_talk(text, finders, vector):
        # "heyyy sam, u around?": a hello with a how-are-you, not a question about the location
        # fact the cross-encoder pairs with "around".
        return ReplyPlan(intent, HELLO, signoff=signoff, tone=tone, kind="greeting")
    if asks and (match.sentences or match.sure):
        return _fact_answer(text, intent, thanks, *_sure_first(match, margin), encoder, base)
    if intent == "greeting" and bare_greeting(text, brand.name):
        return ReplyPlan(intent, HELLO, signoff=signoff, tone=tone, kind="greeting")
    if intent == "greeting" and understanding.sentiment == "positive" and not tone.sarcastic and not asks:
        # "Sam! good to see you on here": kind words with a hello, answered with both.
        return ReplyPlan(intent, "Hi, and thank you - that means a lot to us!", signoff=signoff, tone=tone, kind="praise")
    if intent == "question":
        return ReplyPlan(intent, thanks, next_step=NO_FACT, handoff="the facts do not cover the question", kind="no_fact", **base)
    return ReplyPlan(intent, "Thanks for your message.", next_step=PERSON_FOLLOWS_UP, handoff="not clear what the message asks for", **base)


def _fact_answer(
    text: str, intent: str, thanks: str, match: FactMatch, margin: float, encoder: Encoder | None, base: dict[str, Any]
) -> ReplyPlan:
    """The facts that answer, when they match what the message asks about (brain/coverage.py): none
    of it or not the thing itself ("afro hair"), a hand-off; only some of its circumstances ("to the
    north side"), the facts and a person to follow up on the rest."""
    stated = " ".join(match.sentences)
    covered = coverage(text, match.about, encoder) if encoder is not None else None
    # The cross-encoder, which reads the message with the fact, is sure the fact answers it in
    # other words ("kids hair" and "a children's cut"): the facts are stated, and what the words
    # do not match waits for a person as a partial answer does, never a bare hand-off.
    sure = match.relevance is not None and match.relevance >= RELEVANCE_SURE
    if covered is not None and not sure and (covered.none_covered or covered.thing_uncovered):
        about = ", ".join(covered.uncovered)
        return ReplyPlan(intent, thanks, next_step=NO_FACT, handoff=f"no fact is about {about!r}", kind="no_fact", **base)
    if covered is not None and not covered.uncovered and _ASKS_PRICE_RE.search(text) and not PRICE_RE.search(stated):
        # "can you replace the motor? how much would that be?": a fact about the service, none about its price.
        covered = replace(covered, uncovered=("what it costs",))
    if covered is not None and covered.uncovered and match.relevance is not None and match.relevance < PARTIAL_MIN_RELEVANCE and not match.sure:
        # "does the jam in the gift box have nuts?": the gift box fact shares its words, but the
        # cross-encoder reads it as no answer and is sure of no other: a hand-off, no fact beside it.
        about = ", ".join(covered.uncovered)
        return ReplyPlan(intent, thanks, next_step=NO_FACT, handoff=f"no fact is about {about!r}", kind="no_fact", **base)
    if covered is not None and covered.uncovered:
        about = ", ".join(covered.uncovered)
        return ReplyPlan(
            intent, thanks, answer=stated, facts=match.sentences, next_step=NO_FACT, kind="partial_answer", margin=margin,
            handoff=f"the facts do not say anything about {about!r}", **base,
        )
    if match.relevance is not None and match.relevance < RELEVANCE_SEND or match.unanswered_parts:
        # The cross-encoder does not read the fact as the answer, or one of the message's questions
        # goes unanswered ("price for a men's cut? and are you open saturdays"): the owner decides.
        margin = 0.0
    return ReplyPlan(intent, thanks, answer=stated, facts=match.sentences, kind="fact_answer", margin=margin, **base)


def _sure_first(match: FactMatch, margin: float) -> tuple[FactMatch, float]:
    """The match with the fact the cross-encoder is sure answers first, and the margin the policy
    reads: none (it waits for the owner) when that fact is not the one closest by meaning, as the
    two readings disagree."""
    first = match.with_sure()
    return first, margin if first.sentences[:1] == match.sentences[:1] else 0.0


def _answers_all(text: str, match: FactMatch, encoder: Encoder | None) -> bool:
    """Whether the facts found match every word that names what the message asks about."""
    if encoder is None or not match.sentences:
        return False
    covered = coverage(text, match.about, encoder)
    return bool(covered.named) and not covered.uncovered


def _for_problem(problem: str, sentences: tuple[str, ...]) -> tuple[str, ...]:
    """The facts found that a message naming a problem may get: when it names one ("where is my
    order?"), only a rule for when something goes wrong ("If you are not happy with your cut, ...");
    "you can order online" beside a late order is no answer."""
    if problem in ("other", "price"):
        return sentences
    return tuple(s for s in sentences if _CONDITIONAL_RE.match(s))


def _remedy(problem: str, facts: Sequence[str], encoder: Encoder | None, asked: Mapping[str, Sequence[str]]) -> FactMatch:
    """The fact that says how the shop puts this problem right, when one is clearly about it; else none."""
    query = REMEDY_QUERIES.get(problem)
    if encoder is None or not facts or not query:
        return FactMatch((), 0.0, 0.0)
    found = answering_facts(query, facts, encoder, questions=asked)
    if found.score - found.runner_up < IN_PERSON_FACT_MARGIN:
        return FactMatch((), found.score, found.runner_up)
    return replace(found, sentences=found.sentences[:1], questions=())


def _applies(
    sentence: str, kind: str, text: str, facts: Sequence[str], encoder: Encoder | None, asked: Mapping[str, Sequence[str]], remedy: FactMatch
) -> bool:
    """Whether a fact found for a kind of in-person request holds for this message. A fact with a
    condition must be the remedy of the problem the message names. A rule about refunds or changes
    says which purchases it is for, so it must name the thing the message is about; how bookings are
    made holds whatever is booked."""
    if encoder is None:
        return False
    if _CONDITIONAL_RE.match(sentence) and sentence not in remedy.sentences:
        return False
    if kind not in ("refund", "order_change"):
        return True
    own = next((fact for fact in facts if sentence in fact), sentence)
    covered = coverage(text, (sentence, *asked.get(own, ())), encoder)
    return not (covered.none_covered or covered.thing_uncovered)


def _apology(problem: str, text: str, order: str) -> str:
    """The apology for the problem; one that speaks of an order ("sorry it arrived damaged") only
    when the message says the thing came from us: "my screen is cracked, can you fix it?" to a
    repair shop is no delivery gone wrong."""
    if problem in _ORDER_PROBLEMS and not order and not _FROM_US_RE.search(text):
        return APOLOGIES["other"]
    return APOLOGIES[problem]


def _clear_problem(finders: _Finders | None, vector: np.ndarray | None) -> str:
    """The problem the message names when it is clearly that one, else "other"."""
    problem = _problem(finders, vector)
    if problem == "other" or finders is None or vector is None:
        return problem
    return problem if finders.problems.lead(vector) >= REMEDY_PROBLEM_LEAD else "other"


def _problem(finders: _Finders | None, vector: np.ndarray | None) -> str:
    if finders is None or vector is None:
        return "other"
    problem, similarity = finders.problems.nearest(vector)
    return problem if similarity >= PROBLEM_MIN_COSINE else "other"
