"""Message templates per event kind, as data (`templates.toml`): the texts of each
channel, with `{name}` placeholders.

    templates = load_templates()
    template = templates.get("outage.planned")          # None when unknown
    missing = template.missing(parameters)              # placeholders without a value
    text = template.render("SMS", parameters, customers=["customers/3100000001"])

`{customer}` is never taken in clear: it is the customers the recipient was reached
through, or the `customer` parameter, masked with `palmlib.masking`.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from palmlib.masking import mask_customer_number

TEMPLATES_FILE = Path(__file__).resolve().parent / "templates.toml"
# The text of each channel (account.v1.DeliveryChannel names without the prefix).
CHANNEL_KEYS = {"IN_APP": "inbox", "SMS": "sms", "PUSH": "push"}
CUSTOMER = "customer"
TITLE_MAX = 64
_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class Rendered:
    """One channel's headline and text."""

    title: str
    body: str


@dataclass(frozen=True)
class Template:
    """One event kind's texts: `title` and one text per channel."""

    kind: str
    title: str
    texts: Mapping[str, str]

    def placeholders(self) -> set[str]:
        """Every placeholder the texts use."""
        return {
            name
            for text in (self.title, *self.texts.values())
            for _, name, _, _ in _FORMATTER.parse(text)
            if name
        }

    def missing(self, parameters: Mapping[str, str], *, has_customers: bool) -> list[str]:
        """Placeholders with no value, sorted (`customer` counts as given when the message
        names customers)."""
        given = set(parameters) | ({CUSTOMER} if has_customers else set())
        return sorted(self.placeholders() - given)

    def render(
        self, channel: str, parameters: Mapping[str, str], *, customers: Sequence[str] = ()
    ) -> Rendered:
        """The texts for `channel` ("IN_APP", "SMS", "PUSH"); `customers` are
        `customers/{id}` names. KeyError when a placeholder has no value."""
        values = dict(parameters)
        numbers = [name.rpartition("/")[2] for name in customers]
        if not numbers and CUSTOMER in values:
            numbers = [values[CUSTOMER]]
        values[CUSTOMER] = "、".join(mask_customer_number(number) for number in numbers)
        return Rendered(
            title=self.title.format_map(values)[:TITLE_MAX],
            body=self.texts[CHANNEL_KEYS[channel]].format_map(values),
        )


class Templates:
    """The templates by kind."""

    def __init__(self, templates: Mapping[str, Template]) -> None:
        self._templates = dict(templates)

    def get(self, kind: str) -> Template | None:
        return self._templates.get(kind)

    def kinds(self) -> list[str]:
        return sorted(self._templates)


def load_templates(path: Path = TEMPLATES_FILE) -> Templates:
    """The templates in `path`; ValueError when one lacks a text or a placeholder is
    not a plain name."""
    with path.open("rb") as handle:
        document = tomllib.load(handle)
    templates = {}
    for kind, entry in document.items():
        texts = {key: entry.get(key) for key in CHANNEL_KEYS.values()}
        if not isinstance(entry.get("title"), str) or not all(
            isinstance(text, str) and text for text in texts.values()
        ):
            raise ValueError(f"template {kind}: needs title, inbox, sms and push texts")
        template = Template(kind, entry["title"], texts)  # type: ignore[arg-type]
        if not all(name.isidentifier() for name in template.placeholders()):
            raise ValueError(f"template {kind}: placeholders must be plain names")
        templates[kind] = template
    return Templates(templates)
