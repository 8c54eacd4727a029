"""What went wrong in exercise 1 (model), for test_model.py and its hidden checks: the hint its tests share and
the validation errors a model gave, as `got` lists them."""

HINT_FIELDS = "declare `recipient_email: EmailStr` and `report_name: str` in the class body, with no defaults."


def errors(model):
    return "; ".join(f"{'.'.join(error.loc)}: {error.msg}" for error in model.errors) or "no details"
