"""The hotline's write side: what each Twilio webhook request does to the call log, the tickets and the jobs.

`state` is pure (statuses, their order, dedupe keys); `service.record` is the one transaction per request;
`tickets` matches callers and opens or attaches tickets; `followups` schedules callbacks, SMS and
transcriptions. The HTTP edge is pipeline.channels.hotline.
"""
