"""The sample bakery of config.toml as test data: its facts, its brand, and the days its sale holds or has ended."""

from __future__ import annotations

from datetime import date

from core.config import BrandSettings, Fact

# The facts as config.toml has them (without the questions it lists for them), for tests that build a BrandSettings in code.
BAKERY_FACTS = [
    Fact(text="We are open Monday to Saturday, 8:00 to 18:00."),
    Fact(text="We deliver within 10 km for 3 EUR; free above 30 EUR."),
    Fact(text="Our autumn sale gives 20% off all cakes until the end of November.", until=date(2026, 11, 30)),
]

DECEMBER = date(2026, 12, 4)
NOVEMBER = date(2026, 11, 15)

BAKERY = BrandSettings(
    name="Acme Bakery",
    facts=BAKERY_FACTS,
    allowed_links=["https://example.com/shop"],
    hashtags=["#AcmeBakery"],
    best_posts=[
        "Fresh from the oven this morning: our cinnamon rolls are back! Come by before they're gone.",
        "Autumn is here, and so is our pumpkin spice cake. 20% off all cakes until the end of November.",
    ],
)


def mentions_the_sale(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in ("sale", "autumn", "20%", "november", "pumpkin"))
