"""HTS/HS codes, code ranges, the schedule by date, and HS-vintage correlations."""
