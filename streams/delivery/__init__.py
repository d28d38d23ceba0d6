"""Alert delivery: routes (which alert goes where, when), channels (Apprise), mute/ack state.

    routes.py     the routes file: load, validate (file:line: key: reason), match an alert
    timing.py     durations, quiet hours: pure time arithmetic
    router.py     per-route decisions: send now, hold for the interval, quiet hours or a digest, drop
    changes.py    what changed between two versions of an alert ("toll 6 -> 13", "now 5 outlets")
    messages.py   one message per alert or digest: a plain-text subject, a text body and an HTML body
    channels.py   destinations through Apprise, with retries
    state.py      mute and acknowledge records (a compacted topic) folded into one view
    runner.py     the Kafka side: consumer group on news.alerts, state topic, DLQ, commits

Everything but channels.py and runner.py is pure and tested without Kafka or a network.
"""
