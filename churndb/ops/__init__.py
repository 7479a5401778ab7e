"""Operating a deployment: monitoring, score-history maintenance, exports, the report and status."""
