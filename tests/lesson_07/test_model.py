"""Exercise 1 (model): IntelReportRequest, a Pydantic model with recipient_email (EmailStr) and report_name.

The model is judged as FastAPI uses it: a route of the kit's takes it as its JSON body, and what that route
answers (200 with the values, or 422 with the errors, and its OpenAPI schema) is what these tests read.
"""

import diagnosis_model as diagnosis
import pytest

from alfred.judge.feedback import check, shown

pytestmark = pytest.mark.model

MODEL = "IntelReportRequest"
VALID = {"recipient_email": "bruce@wayne.enterprises", "report_name": "Penguin's smuggling routes"}


def validate(submission, data):
    seen = submission.validate(MODEL, data)
    check(
        seen.model.is_pydantic,
        tried=f"{MODEL}(**{shown(data)})",
        got=f"FastAPI cannot take {MODEL} as a request body: it is not a Pydantic model",
        expected=f"class {MODEL}(BaseModel)",
        hint="import BaseModel from pydantic and inherit from it.",
    )
    return seen.model


def test_model_is_pydantic_with_recipient_email_and_report_name(submission):
    model = validate(submission, VALID)
    missing = [name for name in VALID if name not in model.fields]
    check(
        not missing,
        tried=f"reading the fields of {MODEL}",
        got=f"the fields {', '.join(sorted(model.fields))}" if model.fields else "a model with no fields yet",
        expected="the fields recipient_email and report_name",
        hint=diagnosis.HINT_FIELDS,
    )


@pytest.mark.parametrize(
    "email",
    ["bruce@wayne.enterprises", "alfred.pennyworth@wayne-manor.co.uk", "oracle+intel@gotham.gov"],
)
def test_model_accepts_a_valid_request(submission, email):
    data = {**VALID, "recipient_email": email}
    model = validate(submission, data)
    values = model.values or {}
    check(
        model.accepted and all(values.get(name) == value for name, value in data.items()),
        tried=f"{MODEL}(**{shown(data)})",
        got=f"accepted, holding {shown(values)}" if model.accepted else f"rejected: {diagnosis.errors(model)}",
        expected=f"accepted, holding {shown(data)}",
        hint=diagnosis.HINT_FIELDS,
    )


@pytest.mark.parametrize(
    "bad_email",
    ["not-an-email", "bruce@", "@wayne.enterprises", "bruce wayne@wayne.enterprises", "bruce@wayne", None],
)
def test_model_rejects_an_invalid_recipient_email(submission, bad_email):
    data = {**VALID, "recipient_email": bad_email}
    model = validate(submission, data)
    check(
        not model.accepted and any(error.loc[:1] == ["recipient_email"] for error in model.errors),
        tried=f"{MODEL}(**{shown(data)})",
        got="accepted it" if model.accepted else f"rejected it with {diagnosis.errors(model)}",
        expected="a validation error on recipient_email",
        hint="type recipient_email as pydantic's EmailStr (it needs the email-validator package): not str, "
        "and not Optional.",
    )


@pytest.mark.parametrize("field", ["report_name", "recipient_email"])
def test_model_requires_every_field(submission, field):
    data = {name: value for name, value in VALID.items() if name != field}
    model = validate(submission, data)
    check(
        not model.accepted and any(error.loc[:1] == [field] for error in model.errors),
        tried=f"{MODEL}(**{shown(data)}), without {field}",
        got="accepted it" if model.accepted else f"rejected it with {diagnosis.errors(model)}",
        expected=f"a validation error saying {field} is missing",
        hint=f"give {field} no default value (no `= None`, no Optional) so every request must include it.",
    )


@pytest.mark.parametrize("not_text", [["Joker", "Riddler"], {"name": "Joker"}, None], ids=["list", "object", "null"])
def test_model_requires_report_name_to_be_text(submission, not_text):
    data = {**VALID, "report_name": not_text}
    model = validate(submission, data)
    check(
        not model.accepted and any(error.loc[:1] == ["report_name"] for error in model.errors),
        tried=f"{MODEL}(**{shown(data)})",
        got="accepted it" if model.accepted else f"rejected it with {diagnosis.errors(model)}",
        expected="a validation error on report_name",
        hint="type report_name as plain `str`: not Optional, not `str | None`.",
    )
