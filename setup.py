"""Only the package list lives here, because it takes code; everything else is in setup.cfg.

``find_packages`` lists every package under ``idp/``, so a new one cannot be left out of the wheel.
``templates/`` and ``migrations/`` sit at the top of the repository but ship inside the package as
``idp/templates`` and ``idp/migrations``, where ``idp.resource_dir`` looks for them first.
``tests/packaging/test_wheel.py`` checks the built wheel file by file.
"""

from setuptools import find_packages
from setuptools import setup

MAPPED = {"idp.templates": "templates", "idp.migrations": "migrations"}

setup(
    packages=[*find_packages(include=["idp", "idp.*"]), *MAPPED, "idp.migrations.versions"],
    package_dir=MAPPED,
)
