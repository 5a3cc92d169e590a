"""Build glue that pyproject.toml cannot express (everything else is declared there).

The default site (klimaviertel.yaml) and the register maps stay in the top-level config/ folder of
the repository, where operators and the customer's layout expect them. The wheel carries that
whole folder as energy.shipped_config/, where energy.config finds it without a checkout.
"""

from setuptools import find_namespace_packages, setup

_CODE = ["energy*", "forecasting*", "optimizer*", "connectors*"]
_SHIPPED = "energy.shipped_config"
#: config/'s sub-folders (registermaps/, ...), mapped along with it
_SHIPPED_SUBFOLDERS = [f"{_SHIPPED}.{name}" for name in find_namespace_packages(where="config")]

setup(
    packages=[*find_namespace_packages(include=_CODE), _SHIPPED, *_SHIPPED_SUBFOLDERS],
    package_dir={_SHIPPED: "config"},
)
