"""A ranking as text, plot and HTML: ``table`` (the terminal table and the recommendation
line), ``plot`` (bar chart) and ``html_report`` (self-contained report, notebook view)."""
