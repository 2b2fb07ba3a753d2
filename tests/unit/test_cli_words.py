"""The command line's own copies of lists it must not import at start-up stay equal to the
lists they copy."""

from __future__ import annotations

from gateway.access.roles import HUMAN_ROLES
from gateway.cli.running import LOCALES, REPOSITORY
from gateway.cli.users import RoleChoice
from gateway.documents import catalog
from gateway.settings import REPOSITORY as SETTINGS_REPOSITORY


def test_the_roles_offered_are_the_roles_of_the_matrix() -> None:
    assert tuple(r.value for r in RoleChoice) == HUMAN_ROLES


def test_languages_and_repository_are_the_same_as_the_packages() -> None:
    assert LOCALES == catalog.LOCALES
    assert REPOSITORY == SETTINGS_REPOSITORY
