"""Only what pyproject.toml cannot say: the shipped files as data packages of the wheel.

The top-level packages are `streams` and `connectors`; the repository keeps the rules, seed feeds and
seed article in `seeds/` and the local broker's build files in `deploy/kafka/`. The wheel carries
those folders as `streams/seeds/` and `streams/shell/kafka/` (package_dir maps them), where
`streams.resources` finds them through importlib.resources. Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

# data package in the wheel -> folder in the repository (streams/resources.py SHIPPED says the same)
SHIPPED = {"streams.seeds": "seeds", "streams.shell.kafka": "deploy/kafka"}
# packages that hold only data (no __init__.py), with their files
DATA = {
    "streams.schemas": ["*.json"],
    "streams.console.static": ["*.html", "*.js", "*.css"],
    "connectors.schemas": ["*.json"],
    "streams.seeds": ["*.yaml", "*.txt"],
    "streams.seeds.rules": ["*.yaml"],
    "streams.seeds.feeds": ["*.xml", "*.json"],
    "streams.shell.kafka": ["pom.xml", "*.properties", "*.properties.in"],
}

setup(
    packages=[*find_packages(include=["streams", "streams.*", "connectors", "connectors.*"]), *DATA],
    package_dir=SHIPPED,
    package_data={**DATA, "streams": ["py.typed"], "connectors": ["py.typed"]},
)
