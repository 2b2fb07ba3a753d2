"""Border Exchange Gateway: signed, schema-validated case exchange (BX/1)."""

from __future__ import annotations

__version__ = "0.1.0"
