"""Projected return of a retention program: one formula, used by reports and the Python API.

For the customers contacted (targeted, not in the control group):
  expected retained   = sum(p x success_rate)
  expected saved      = sum(p x success_rate x monthly_charges x horizon) = success_rate x sum(revenue at risk)
  program cost        = sum(intervention cost)
  net benefit         = saved - cost;  ROI = net benefit / cost
  break-even success  = the success rate at which saved = cost
"""

from __future__ import annotations


def summarize(rows: list[dict]) -> dict:
    """Totals over per-category rows (keys as in sql run_roi_by_category)."""
    cost = sum(r["program_cost"] for r in rows)
    saved = sum(r["expected_revenue_saved"] for r in rows)
    at_risk = sum(r["contacted_revenue_at_risk"] for r in rows)
    horizon = max((r["horizon_months"] for r in rows), default=None)  # from the policy; none without rows
    net = saved - cost
    return {
        "targeted": sum(r["targeted"] for r in rows),
        "contacted": sum(r["contacted"] for r in rows),
        "program_cost": round(cost, 2),
        "expected_retained": round(sum(r["expected_retained"] for r in rows), 2),
        "expected_revenue_saved": round(saved, 2),
        "net_benefit": round(net, 2),
        "roi": round(net / cost, 4) if cost > 0 else None,
        "monthly_revenue_saved": round(saved / horizon, 2) if horizon else None,
        "monthly_net_benefit": round(net / horizon, 2) if horizon else None,
        "break_even_success_rate": round(cost / at_risk, 4) if at_risk > 0 else None,
        "horizon_months": horizon,
    }
