"""Cases, persons, tasks, lifecycles, deadlines and calendars, hotline tips and triage."""
