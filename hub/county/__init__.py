"""The county level (报县级 over the wire): a county hub is the same software in county mode.

A township hub enrols with its county hub exactly as a village node enrols with a township, and
talks to it with the node's own sync client (``uplink``); at the county, the township's
``case.passed_up`` events become cases in the county's queue (``intake``), and the county's
answer travels back down as a case.status update the township records by the same rule as an
answer typed in from paper (hub/cases.record_county_answer).
"""
