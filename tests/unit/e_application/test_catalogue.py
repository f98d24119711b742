from __future__ import annotations

from typing import Any

from services.e_application.seed import seed
from tests.unit.e_application.support import LECTURE_FORM, Api, demo_city


async def _all(api: Api, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 10, **params, **({"cursor": cursor} if cursor else {})}
        response = await api.client.get("/v1/procedures", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_catalogue_has_at_least_thirty_procedures_across_pages(api: Api) -> None:
    items = await _all(api)
    codes = [p["code"] for p in items]
    assert len(codes) == len(set(codes)) >= 30
    assert codes == sorted(codes)
    assert {p["assurance"] for p in items} == {"anonymous", "email", "password", "jpki"}


async def test_filters_and_text_search_in_both_languages(api: Api) -> None:
    jpki = await _all(api, assurance="jpki")
    assert jpki
    assert {p["assurance"] for p in jpki} == {"jpki"}
    assert "residence-certificate" in {p["code"] for p in jpki}
    shimin = await _all(api, department="shimin")
    assert shimin
    assert {p["department"] for p in shimin} == {"shimin"}
    ja = await _all(api, q="粗大ごみ")
    assert [p["code"] for p in ja] == ["bulky-waste"]
    en = await _all(api, q="RESIDENCE cert")
    assert [p["code"] for p in en] == ["residence-certificate"]
    assert await _all(api, q="100%_") == []  # LIKE wildcards are matched literally


async def test_a_procedure_has_its_form_fee_policy_and_deadlines(api: Api) -> None:
    response = await api.client.get("/v1/procedures/residence-certificate")
    assert response.status_code == 200
    body = response.json()
    assert body["signature_required"] is True
    assert body["four_eyes"] is True
    assert body["fee"] == {
        "kind": "per_copy",
        "amount_yen": 300,
        "quantity_pointer": "/copies",
        "fictional": True,
        "note_ja": None,
    }
    assert set(body["payment_methods"]) == {"konbini", "payeasy", "card"}
    assert body["form_schema"]["type"] == "object"
    assert body["prefill"]["/name"] == "name"
    lecture = (await api.client.get("/v1/procedures/lecture-application")).json()
    assert lecture["capacity"] == 30
    assert lecture["seats_left"] == 30
    assert lecture["deadline"] == "2031-03-31T17:00:00+09:00"
    bulky = (await api.client.get("/v1/procedures/bulky-waste")).json()
    assert bulky["fee"]["kind"] == "per_item"
    assert bulky["has_fee"] is True


async def test_unknown_procedure_is_a_problem(api: Api) -> None:
    response = await api.client.get("/v1/procedures/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["instance"] == response.headers["x-request-id"]


async def test_seeding_again_publishes_nothing_new(api: Api) -> None:
    before = await _all(api)
    async with api.runtime.db.session() as session:
        await seed(session, demo_city())
    assert await _all(api) == before
    assert {p["version"] for p in before} == {1}


async def test_an_edit_publishes_a_version_and_filed_applications_keep_theirs(api: Api) -> None:
    citizen = api.citizen()
    filed = await api.submitted("lecture-application", LECTURE_FORM, citizen)
    current = (await api.client.get("/v1/procedures/lecture-application")).json()
    edit = {
        k: current[k]
        for k in (
            "name_ja",
            "name_en",
            "department",
            "category_ja",
            "assurance",
            "form_schema",
            "capacity",
            "deadline",
        )
    }
    edit["description_ja"] = "定員を増やしました。"
    edit["capacity"] = 40
    approver = api.staff("stf_gakushu", "approver", department="shogai-gakushu")
    published = await api.client.post(
        "/v1/procedures/lecture-application/versions", json=edit, headers=approver
    )
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 2
    location = published.headers["location"]
    assert location == "/v1/procedures/lecture-application/versions/2"
    assert (await api.client.get(location)).json()["capacity"] == 40
    assert published.json()["seats_left"] == 39
    old = await api.client.get("/v1/procedures/lecture-application/versions/1")
    assert old.json()["description_ja"] != "定員を増やしました。"
    mine = await api.client.get(f"/v1/applications/{filed['id']}", headers=citizen)
    assert mine.json()["procedure_version"] == 1
    fresh = await api.submitted("lecture-application", LECTURE_FORM, citizen)
    assert fresh["procedure_version"] == 2


async def test_only_the_departments_approver_may_publish(api: Api) -> None:
    body = {"name_ja": "x"}
    other = api.staff("stf_x", "approver", department="zeimu")
    assert (
        await api.client.post(
            "/v1/procedures/lecture-application/versions",
            json={**(await _definition(api, "lecture-application")), **body},
            headers=other,
        )
    ).status_code == 404
    plain = api.staff("stf_y", department="shogai-gakushu")
    response = await api.client.post(
        "/v1/procedures/lecture-application/versions",
        json=await _definition(api, "lecture-application"),
        headers=plain,
    )
    assert response.status_code == 403


async def test_a_broken_form_schema_is_refused(api: Api) -> None:
    definition = await _definition(api, "inquiry")
    definition["form_schema"] = {"type": "object", "properties": {"a": {"type": "nonsense"}}}
    approver = api.staff("stf_s", "approver", department="seisaku")
    response = await api.client.post(
        "/v1/procedures/inquiry/versions", json=definition, headers=approver
    )
    assert response.status_code == 422
    assert any("form_schema" in e["field"] for e in response.json()["errors"])


async def _definition(api: Api, code: str) -> dict[str, Any]:
    body = (await api.client.get(f"/v1/procedures/{code}")).json()
    keep = (
        "name_ja",
        "name_en",
        "description_ja",
        "description_en",
        "department",
        "category_ja",
        "assurance",
        "signature_required",
        "form_schema",
        "prefill",
        "fee",
        "payment_methods",
        "attachments",
        "standard_processing_days",
        "capacity",
        "deadline",
        "four_eyes",
        "representative_allowed",
        "issued_document",
    )
    return {k: body[k] for k in keep}


def _titled(node: Any, pointer: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema object under `node` that has a title (the form's fields), by pointer."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if isinstance(node.get("title"), str):
            found.append((pointer, node))
        for key, value in node.items():
            found += _titled(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _titled(value, f"{pointer}/{i}")
    return found


async def test_every_form_field_has_an_english_title_and_english_choices(api: Api) -> None:
    """The portal's English switch shows `x-title-en` and `x-labels-en`; the API serves them
    with the schema as seeded, beside the Japanese ones."""
    missing = []
    for summary in await _all(api):
        code = summary["code"]
        schema = (await api.client.get(f"/v1/procedures/{code}")).json()["form_schema"]
        fields = _titled(schema)
        assert fields, code
        for pointer, field in fields:
            english = field.get("x-title-en")
            if not english or not english.isascii() or english == field["title"]:
                missing.append(f"{code}{pointer}: {field['title']!r} -> {english!r}")
            if "x-labels-ja" in field:
                labels = field.get("x-labels-en") or []
                if len(labels) != len(field["enum"]) or not all(x.isascii() for x in labels):
                    missing.append(f"{code}{pointer}: labels {field['x-labels-ja']} -> {labels}")
    assert missing == []
