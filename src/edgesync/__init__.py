"""
The ``edgesync`` command and the runtime both services share.

Logging set-up, RFC 9457 problem handling, the request body limit, database
migrations, and the demo that runs a cloud and three edges on one machine.
"""
