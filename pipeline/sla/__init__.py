"""Pure SLA arithmetic: China working days, business-time clocks, deadlines, dispatch and follow-up dates.

workdays.py (WorkCalendar), clock.py (durations, business time), deadlines.py (ServicePolicy,
compute_deadlines, callbacks, clock states), cutoff.py (spare-part dispatch, follow-up visits).
Nothing here reads the wall clock, the environment or the database: pass now, zone and calendar in.
"""
