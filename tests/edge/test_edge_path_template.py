"""HttpRule path templates: grammar, verbs, `**`, and percent-decoding of values."""

from __future__ import annotations

import pytest

from edge.path_template import TemplateError, decode_segment, parse_template


def test_variable_with_pattern_covers_its_segments() -> None:
    t = parse_template("/v1/{name=shelves/*/books/*}")
    assert t.segments == ("v1", "shelves", "*", "books", "*")
    (var,) = t.variables
    assert (var.field_path, var.start, var.end, var.single_segment) == (("name",), 1, 5, False)
    assert t.verb is None


def test_bare_variable_is_one_segment() -> None:
    t = parse_template("/v1/echo/{text}")
    assert t.segments == ("v1", "echo", "*")
    assert t.variables[0].single_segment


def test_nested_field_path() -> None:
    t = parse_template("/v1/{book.name=shelves/*/books/*}")
    assert t.variables[0].field_path == ("book", "name")


def test_verb_after_variable_and_after_literal() -> None:
    assert parse_template("/v1/{name=outages/*}:cancel").verb == "cancel"
    t = parse_template("/v1/outages:watch")
    assert (t.segments, t.verb) == (("v1", "outages"), "watch")


def test_deep_wildcard_takes_the_rest() -> None:
    t = parse_template("/v1/archive/{name=**}")
    assert t.has_deep_wildcard
    assert t.variables[0].end is None
    assert t.bind(["v1", "archive", "a", "b%2Fc", "d"]) == {"name": "a/b%2Fc/d"}


def test_single_segment_value_is_fully_decoded() -> None:
    t = parse_template("/v1/echo/{text}")
    assert t.bind(["v1", "echo", "a%2Fb%20c"]) == {"text": "a/b c"}


def test_multi_segment_value_keeps_encoded_slashes() -> None:
    assert decode_segment("a%2fb/c%20d", keep_slash=True) == "a%2fb/c d"


@pytest.mark.parametrize(
    "source",
    [
        "v1/books",
        "/v1/{name=**}/tail",
        "/v1/{a}/{a}",
        "/v1/{name=books/*",
        "/v1/{a={b}}",
        "/v1/{bad-name}",
        "/v1/books:",
        "/v1//books",
    ],
)
def test_malformed_templates_are_refused(source: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(source)


def test_openapi_form_of_a_template() -> None:
    assert parse_template("/v1/{name=outages/*}:cancel").openapi_path() == "/v1/{name}:cancel"
