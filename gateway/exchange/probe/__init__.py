"""``gateway probe``: a partner's BX/1 endpoint checked against PROTOCOL.md, check by check,
with test messages (``bx.test``, §3.1) signed as this node, paced under the partner's rate,
and a report an implementer acts on (docs/probe.md).

The modules, in the order a probe uses them: :mod:`.setup` (what it works with),
:mod:`.history` (the partner's checkpoints this node holds), :mod:`.wire` (paced requests,
evidence with secrets cut), :mod:`.forge` (tokens and test messages), :mod:`.context` (a
probe in progress), the checks by section (:mod:`.keychecks`, :mod:`.authchecks`,
:mod:`.pushchecks`, :mod:`.offline`, :mod:`.historychecks`), :mod:`.run` (all of them in
order), :mod:`.results` (the checks and their outcomes) and :mod:`.report` (JUnit XML, JSON
and a bilingual HTML page).
"""
