from tests.conftest import sign_in


def test_admin_signs_in_and_sees_members(client, orgs):
    alpha, _ = orgs
    response = sign_in(client, alpha.admin.email)
    assert response.status_code == 302
    page = client.get(f"/o/{alpha.slug}/admin/members")
    assert page.status_code == 200
    assert alpha.carer.email in page.get_data(as_text=True)


def test_healthz_reports_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["database"]["ok"] is True
