"""Build glue that pyproject.toml cannot express (everything else is declared there).

The default site (klimaviertel.yaml) and the register maps stay in the top-level config/ folder of
the repository, where operators and the customer's layout expect them. The wheel carries that
whole folder as energy.shipped_config/, where energy.config finds it without a checkout.
"""

from setuptools import find_namespace_packages, setup

_CODE = ["energy*", "forecasting*", "optimizer*", "connectors*"]

setup(
    packages=[*find_namespace_packages(include=_CODE), "energy.shipped_config"],
    package_dir={"energy.shipped_config": "config"},
    package_data={"energy.shipped_config": ["*.yaml", "**/*.yaml", "*.md", "**/*.md"]},
)
