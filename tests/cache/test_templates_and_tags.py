"""Tag templates render as the protos say; generations change on bump and never repeat."""

from __future__ import annotations

import pytest

from cachetags import (
    CachePool,
    TagGenerations,
    TagInvalidator,
    TagTemplate,
    TemplateError,
    customer_tag,
    user_tag,
)


@pytest.mark.parametrize(
    ("template", "values", "tag"),
    [
        ("customer/{parent}", {"parent": "customers/3100000001"}, "customer/customers/3100000001"),
        (
            "customer/{name=customers/*}",
            {"name": "customers/3100000001/bills/2026-10"},
            "customer/customers/3100000001",
        ),
        ("user/{name=users/*}", {"name": "users/u1/messages/9"}, "user/users/u1"),
        ("user/{user.name}", {"user.name": "users/u1"}, "user/users/u1"),
        ("tariffs", {}, "tariffs"),
        ("area/{a}/{b=x/**}", {"a": "A01", "b": "x/y/z"}, "area/A01/x/y/z"),
    ],
)
def test_templates_render_from_request_fields(
    template: str, values: dict[str, str], tag: str
) -> None:
    assert TagTemplate.parse(template).render(values) == tag


def test_a_value_that_does_not_match_its_pattern_renders_nothing() -> None:
    template = TagTemplate.parse("customer/{name=customers/*}")
    assert template.render({"name": "tariffs/x"}) is None
    assert template.render({"name": ""}) is None
    assert template.field_paths == ("name",)


@pytest.mark.parametrize("bad", ["customer/{name", "customer/{a=}", "x}", ""])
def test_malformed_templates_are_refused(bad: str) -> None:
    with pytest.raises(TemplateError):
        TagTemplate.parse(bad)


def test_generations_are_stable_until_bumped(pool: CachePool) -> None:
    tags = TagGenerations(pool)
    first = tags.current(["a", "b"])
    assert tags.current(["a", "b"]) == first
    tags.bump(["a"])
    second = tags.current(["a", "b"])
    assert second["a"] != first["a"] and second["b"] == first["b"]


def test_a_lost_generation_comes_back_new_never_old(pool: CachePool) -> None:
    tags = TagGenerations(pool)
    seen = {tags.current(["a"])["a"]}
    for _ in range(5):
        pool.flush_all()
        seen.add(tags.current(["a"])["a"])
    assert len(seen) == 6


def test_the_server_api_bumps_the_tags_the_edge_renders(pool: CachePool) -> None:
    tags = TagGenerations(pool)
    rendered = TagTemplate.parse("customer/{parent}").render({"parent": "customers/3100000001"})
    assert rendered == customer_tag("3100000001") == customer_tag("customers/3100000001")
    assert user_tag("u1") == user_tag("users/u1") == "user/users/u1"
    before = tags.current([rendered])
    assert TagInvalidator(pool).bump_customers(["3100000001"]) is True
    assert tags.current([rendered]) != before
