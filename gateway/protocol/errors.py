"""The one family of the gateway's errors, with its tree written down here (as httpx does).

Every error the gateway raises on purpose derives from :class:`GatewayError`; each says in one
line what was refused and why, and carries no personal data. Only :class:`Problem` and
``CaseError`` carry a ``code`` of ``protocol.problems.PROBLEMS``, which alone decides an HTTP
status (:func:`gateway.protocol.problems.status_of`), for the API and the console alike.

    GatewayError
    ├── Problem            protocol.problems   a rejection on the wire or by the local API
    ├── EncodingError      protocol.encoding   bytes that are not the JSON or base64url asked
    ├── JwkError           protocol.jose       a JWK that is not a usable public key
    ├── CaseError          cases.work          a refused case operation (code, field)
    ├── TransitionRefused  cases.lifecycle     a move the lifecycle does not allow
    ├── CalendarError      cases.calendars     a calendar file that cannot be used
    ├── UserError          access.users        a refused account operation
    │   └── LoginThrottled                     too many failures from here: wait
    ├── SessionError       access.sessions     no valid session
    ├── OutboundError      exchange.outbound   a message this node will not send
    ├── BundleError        exchange.bundles    a bundle refused whole
    ├── NodeError          exchange.node       the node cannot start
    ├── KeyStoreError      trust.keys          this node's keys
    ├── PartnerFileError   trust.partners      a partner file
    ├── RegistryError      documents.registry  the schemas on disk
    ├── DatabaseError      store.database      a database this gateway cannot use
    ├── SecretKeyError     store.crypto        the secret key file
    └── SealError          store.crypto        a sealed value that does not open
    (SettingsError in gateway.settings stays apart: settings import nothing of ours.)
"""

from __future__ import annotations


class GatewayError(Exception):
    """Something the gateway refused on purpose; the message says what and why."""
