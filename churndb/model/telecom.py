"""The telecom customer layout (shared/data/telecom_customer_schema.csv) as data.

One ``Column`` per field: its kind, allowed values or range.  Ingest validates
with it, the sample generator writes it, and the feature pipeline reads its
kinds.  ``customer_snapshots`` stores exactly these columns (see migration 0001).
"""

from __future__ import annotations

from dataclasses import dataclass

PLAN_CATEGORIES = (
    "Prepaid Mini", "Prepaid Regular", "Prepaid Unlimited",
    "Postpaid Silver", "Postpaid Gold", "Postpaid Platinum",
)
# Some exports carry a coarse tier instead of the plan name (schema note).
PLAN_TIERS = ("Low", "Medium", "High")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # 'id' | 'category' | 'integer' | 'number' | 'flag'
    allowed: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    @property
    def range_text(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low:g}..{self.high:g}"
        return f">= {self.low:g}"


COLUMNS: tuple[Column, ...] = (
    Column("customer_id", "id", low=1),
    Column("gender", "category", ("Male", "Female", "Other")),
    Column("age", "integer", low=18, high=100),
    Column("region_circle", "category", ("North", "South", "East", "West", "Metro")),
    Column("connection_type", "category", ("4G", "5G", "Fiber Home Broadband")),
    Column("plan_type", "category", ("Prepaid", "Postpaid")),
    Column("contract_type", "category", ("No Contract", "1 Year", "2 Year", "Month-to-Month")),
    Column("base_plan_category", "category", PLAN_CATEGORIES + PLAN_TIERS),
    Column("tenure_months", "integer", low=0),
    Column("monthly_charges", "number", low=0),
    Column("total_charges", "number", low=0),
    Column("avg_data_gb_month", "number", low=0),
    Column("avg_voice_mins_month", "number", low=0),
    Column("sms_count_month", "number", low=0),
    Column("overage_charges", "number", low=0),
    Column("is_family_plan", "flag"),
    Column("is_multi_service", "flag"),
    Column("network_issues_3m", "integer", low=0),
    Column("dropped_call_rate", "number", low=0, high=1),
    Column("avg_data_speed_mbps", "number", low=0),
    Column("num_complaints_3m", "integer", low=0),
    Column("num_complaints_12m", "integer", low=0),
    Column("call_center_interactions_3m", "integer", low=0),
    Column("last_complaint_resolution_days", "number", low=0),
    Column("app_logins_30d", "integer", low=0),
    Column("selfcare_transactions_30d", "integer", low=0),
    Column("auto_pay_enrolled", "flag"),
    Column("late_payment_flag_3m", "flag"),
    Column("avg_payment_delay_days", "number", low=0),
    Column("arpu", "number", low=0),
    Column("segment_value", "category", ("Low", "Medium", "High")),
    Column("nps_score", "number", low=-100, high=100),
    Column("service_rating_last_6m", "number", low=1, high=5),
    Column("received_competitor_offer_flag", "flag"),
    Column("retention_offer_accepted_flag", "flag"),
)

LABEL = "is_churn"
BY_NAME = {c.name: c for c in COLUMNS}
ATTRIBUTES = tuple(c.name for c in COLUMNS if c.kind != "id")
CATEGORICAL = tuple(c.name for c in COLUMNS if c.kind == "category")
NUMERIC = tuple(c.name for c in COLUMNS if c.kind in ("integer", "number", "flag"))
# Bounds that must hold between columns, checked on every row: (smaller, larger, message).
CONSISTENCY = (("num_complaints_3m", "num_complaints_12m", "complaints in 3 months exceed complaints in 12 months"),)
