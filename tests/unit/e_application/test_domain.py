"""Pure rules of e_application: business days, fees from the form, form errors, references."""

from __future__ import annotations

from datetime import date

import pytest

from services.e_application.domain import fees, forms, references
from services.e_application.domain.application_access import readers
from services.e_application.domain.business_days import (
    add_business_days,
    business_days_between,
    is_business_day,
)
from services.e_application.domain.lifecycle import (
    LIFECYCLE,
    Assurance,
    Status,
    Transition,
    meets,
)
from services.kit.errors import IllegalTransition


def test_business_days_skip_weekends_holidays_and_the_year_end_closure() -> None:
    assert not is_business_day(date(2026, 11, 3))  # 文化の日
    assert not is_business_day(date(2026, 11, 23))  # 勤労感謝の日
    assert not is_business_day(date(2026, 12, 29))
    assert not is_business_day(date(2027, 1, 3))
    assert is_business_day(date(2027, 1, 4))
    # Friday 2026-12-25 + 3 business days: 28th, then 4th and 5th of January.
    assert add_business_days(date(2026, 12, 25), 3) == date(2027, 1, 5)
    # Golden week 2027: 4/29 (Thu) holiday, 5/3–5/5 holidays.
    assert add_business_days(date(2027, 4, 28), 2) == date(2027, 5, 6)
    assert business_days_between(date(2026, 12, 25), date(2027, 1, 5)) == 3
    assert business_days_between(date(2027, 1, 5), date(2027, 1, 5)) == 0


def test_fees_fixed_per_copy_and_per_item() -> None:
    assert fees.amount(fees.FixedFee(amount_yen=3000), {}) == 3000
    per_copy = fees.PerCopyFee(amount_yen=300, quantity_pointer="/copies")
    assert fees.amount(per_copy, {"copies": 3}) == 900
    assert fees.amount(per_copy, {"copies": True}) == 0  # a boolean is not a count
    per_item = fees.PerItemFee(
        items_pointer="/items", price_key="kind", quantity_key="n", prices={"sofa": 1200}
    )
    answers = {"items": [{"kind": "sofa", "n": 2}, {"kind": "piano", "n": 1}]}
    assert fees.amount(per_item, answers) == 2400
    huge = {"items": [{"kind": "sofa", "n": 10_000}]}
    assert fees.amount(per_item, huge) == fees.MAX_FEE_YEN
    assert fees.amount(None, answers) == 0


def test_form_errors_name_pointers_and_changed_fields() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "array", "items": {"type": "integer"}},
            "c/d": {"type": "string"},
        },
        "required": ["a", "c/d"],
        "additionalProperties": False,
    }
    errors = forms.form_errors(schema, {"b": [1, "x"], "zz": 1})
    pointers = [e["pointer"] for e in errors]
    assert "/a" in pointers
    assert "/b/1" in pointers
    assert "/c~1d" in pointers
    assert "" in pointers  # the unknown property is an error of the whole form
    before = {"a": "x", "b": [1, 2], "n": {"m": 1}}
    after = {"a": "x", "b": [1, 3], "n": {"m": 2}, "new": True}
    assert forms.changed_pointers(before, after) == ["/b/1", "/n/m", "/new"]
    assert forms.value_at(after, "/n/m") == 2
    assert forms.value_at(after, "/b/9") is None


def test_references_and_access_codes() -> None:
    assert references.reference(2026, 123) == "2026-000123"
    with pytest.raises(ValueError, match="exhausted"):
        references.reference(2026, 1_000_000)
    code = references.new_access_code()
    assert references.code_matches(code.lower().replace("-", " "), references.hash_code(code))
    assert not references.code_matches("AAAA-AAAA-AAAA", references.hash_code(code))
    assert not references.code_matches(code, None)


def test_the_lifecycle_names_the_current_state_when_refusing() -> None:
    assert LIFECYCLE.apply(Status.DRAFT, Transition.SUBMIT) is Status.SUBMITTED
    with pytest.raises(IllegalTransition) as refused:
        LIFECYCLE.apply(Status.COMPLETED, Transition.WITHDRAW)
    assert refused.value.current_state == "completed"
    assert Status.APPROVED not in LIFECYCLE.states_allowing(Transition.WITHDRAW)
    assert LIFECYCLE.final_states() >= {Status.COMPLETED, Status.REJECTED, Status.WITHDRAWN}
    assert meets("jpki", Assurance.PASSWORD)
    assert not meets("email", Assurance.JPKI)
    assert not meets("bogus", Assurance.EMAIL)
    assert meets(None, Assurance.ANONYMOUS)


def test_the_read_rule_of_applications() -> None:
    resident = readers("citizen", frozenset(), None, "cit_a")
    assert resident.allows(owner_sub="cit_a", department="shimin", is_draft=True)
    assert not resident.allows(owner_sub="cit_b", department="shimin", is_draft=False)
    staff = readers("staff", frozenset({"staff"}), "shimin", "stf_a")
    assert staff.allows(owner_sub="cit_a", department="shimin", is_draft=False)
    assert not staff.allows(owner_sub="cit_a", department="shimin", is_draft=True)
    assert not staff.allows(owner_sub="cit_a", department="zeimu", is_draft=False)
    admin = readers("staff", frozenset({"admin"}), None, "stf_admin")
    assert admin.allows(owner_sub=None, department="zeimu", is_draft=False)
    service = readers("service", frozenset({"admin"}), None, "svc_x")
    assert not service.allows(owner_sub="svc_x", department="zeimu", is_draft=False)
