"""The guide's cumulative ROI table: the same formula as v_roi_projection, month by month (issue 17)."""

import pytest

from tests.conftest import run_score


def test_month_six_is_six_times_the_monthly_projection(cli, trained_conn):
    run_score(cli)
    proj = trained_conn.execute("SELECT monthly_revenue_saved, monthly_net_benefit, program_cost, horizon_months, "
                                "expected_retained, roi FROM v_roi_projection WHERE risk_category = 'All'").fetchone()
    monthly_saved, monthly_net, cost, horizon, retained, roi = (float(v) for v in proj)
    six = trained_conn.execute("SELECT retained, revenue_saved, program_cost, net_benefit, cumulative_roi, basis "
                               "FROM v_roi_cumulative WHERE month = 6").fetchone()
    assert six[0] == pytest.approx(6 * retained / horizon)
    assert six[1] == pytest.approx(6 * monthly_saved)
    assert six[2] == pytest.approx(6 * cost / horizon)
    assert six[3] == pytest.approx(6 * monthly_net)
    assert six[4] == pytest.approx(roi) and six[5] == "projection"
    assert trained_conn.execute("SELECT count(*) FROM v_roi_cumulative").fetchone()[0] == 24


def test_the_report_shows_the_cumulative_table_as_a_projection(cli, trained_conn, tmp_path):
    run_score(cli)
    res = cli("report", "--out", tmp_path / "rep", "--json")
    assert res.code == 0, res.err
    cumulative = res.json["metrics"]["cumulative"]
    assert [c["month"] for c in cumulative] == [1, 2, 3, 4, 5, 6]
    net6 = trained_conn.execute("SELECT net_benefit FROM v_roi_cumulative WHERE month = 6").fetchone()[0]
    text = (tmp_path / "rep" / "deployment_metrics.txt").read_text()
    assert "6-MONTH CUMULATIVE (a projection" in text and f"${net6:,.2f}" in text
    assert "no campaign has matured outcomes yet" in text
    page = (tmp_path / "rep" / "report.html").read_text()
    assert 'id="cumulative"' in page and "(projection)" in page and page.count("<tr><td>") == 6
