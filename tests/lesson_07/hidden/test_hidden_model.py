"""Hidden checks of exercise 1 (model): IntelReportRequest on addresses and report names drawn afresh for each
grading run, so a model fitted to the visible tests' values (a length limit they happen to meet, a hand-made
pattern for addresses) is seen."""

import pytest
from diagnosis_model import HINT_FIELDS, errors
from test_model import MODEL, validate

from alfred.judge.feedback import check, shown

from . import draws

pytestmark = pytest.mark.model

DRAWS = 3


@pytest.mark.hidden("the model must accept other valid addresses and report names")
def test_hidden_model_accepts_other_valid_requests(submission, hidden_random):
    for email, name in zip(draws.distinct(hidden_random, draws.email, DRAWS),
                           draws.distinct(hidden_random, draws.report_name, DRAWS)):
        data = {"recipient_email": email, "report_name": name}
        model = validate(submission, data)
        values = model.values or {}
        check(
            model.accepted and all(values.get(key) == value for key, value in data.items()),
            tried=f"{MODEL}(**{shown(data)})",
            got=f"accepted, holding {shown(values)}" if model.accepted else f"rejected: {errors(model)}",
            expected=f"accepted, holding {shown(data)}",
            hint=HINT_FIELDS + " Any text is a report name, however long.",
        )


@pytest.mark.hidden("the model must reject other malformed addresses")
def test_hidden_model_rejects_other_malformed_addresses(submission, hidden_random):
    for bad_email in draws.distinct(hidden_random, draws.malformed_email, DRAWS):
        data = {"recipient_email": bad_email, "report_name": draws.report_name(hidden_random)}
        model = validate(submission, data)
        check(
            not model.accepted and any(error.loc[:1] == ["recipient_email"] for error in model.errors),
            tried=f"{MODEL}(**{shown(data)})",
            got="accepted it" if model.accepted else f"rejected it with {errors(model)}",
            expected="a validation error on recipient_email",
            hint="type recipient_email as pydantic's EmailStr, which checks every rule of an address: a pattern "
            "of your own lets malformed ones through.",
        )
