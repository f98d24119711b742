"""Invariants under concurrent submissions: capacity by a conditional UPDATE, and reference
numbers unique and gap-free per year (a failed submission gives its number back)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.unit.e_application.support import LECTURE_FORM, Api


async def _limit_capacity(api: Api, capacity: int) -> None:
    current = (await api.client.get("/v1/procedures/lecture-application")).json()
    keep = ("name_ja", "name_en", "department", "category_ja", "assurance", "form_schema")
    edit: dict[str, Any] = {k: current[k] for k in keep}
    edit["capacity"] = capacity
    response = await api.client.post(
        "/v1/procedures/lecture-application/versions",
        json=edit,
        headers=api.staff("stf_g", "approver", department="shogai-gakushu"),
    )
    assert response.status_code == 201, response.text


async def test_fifty_concurrent_sign_ups_for_ten_places_accept_exactly_ten(api: Api) -> None:
    await _limit_capacity(api, 10)

    async def sign_up(i: int) -> tuple[int, dict[str, Any]]:
        response = await api.client.post(
            "/v1/applications",
            json={"procedure_code": "lecture-application", "form": LECTURE_FORM, "submit": True},
            headers=api.citizen(f"cit_{i}"),
        )
        return response.status_code, response.json()

    results = await asyncio.gather(*(sign_up(i) for i in range(50)))
    accepted = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status != 201]
    assert len(accepted) == 10
    assert {status for status, _ in results} == {201, 409}
    assert {body["type"] for body in refused} == {"/problems/sign-up-full"}
    procedure = (await api.client.get("/v1/procedures/lecture-application")).json()
    assert procedure["seats_left"] == 0
    # The refused submissions took no reference number: the accepted ones are 1..10.
    numbers = sorted(int(body["reference"].split("-")[1]) for body in accepted)
    assert numbers == list(range(1, 11))


async def test_concurrent_submissions_get_unique_gap_free_references(api: Api) -> None:
    drafts = [
        await api.draft("lecture-application", LECTURE_FORM, api.citizen(f"cit_{i}"))
        for i in range(20)
    ]
    # One in four is invalid and fails inside its submit transaction.
    for i, draft in enumerate(drafts):
        if i % 4 == 0:
            await api.client.patch(
                f"/v1/applications/{draft['id']}",
                json={"form": {"name": "x"}},
                headers=api.citizen(f"cit_{i}"),
            )
    responses = await asyncio.gather(
        *(api.act(draft["id"], "submit", api.citizen(f"cit_{i}")) for i, draft in enumerate(drafts))
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 15
    assert statuses.count(422) == 5
    references = [r.json()["reference"] for r in responses if r.status_code == 200]
    assert len(set(references)) == 15
    assert sorted(int(ref.split("-")[1]) for ref in references) == list(range(1, 16))
