"""BX/1 on the wire: envelope, JOSE signing and verification, receipts, bearer tokens, problems.

Pure: no I/O, no database, no web. Everything that needs the outside world (the partner
directory, the replay cache, the document schemas, the clock) is handed in by the caller.
"""
